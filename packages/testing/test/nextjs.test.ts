/**
 * examples/nextjs, a real Next.js app whose route handler is `export const GET = sse(hub)` and whose
 * publish API is `publish(hub, { prefix: '/api' })` on a catch-all route: built with `next build`
 * (Turbopack, with the SWC binary from its npm package, telemetry off) and served by `next start`,
 * read with the `eventsource` package and Node's http.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { EsClient, HttpStream, sleep, waitUntil } from '../src/clients';
import { openWithin } from '../src/runtimes';

jest.setTimeout(30_000);

const APP = path.resolve(__dirname, '../../../examples/nextjs');
const NEXT = require.resolve('next/dist/bin/next', { paths: [APP] });
const TOKEN = 'next-test-token';
const ENV = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production', SSEHUB_TOKEN: TOKEN };

let child: ChildProcess;
let origin: string;
let output = '';
const closers: (() => void)[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const build = spawnSync(process.execPath, [NEXT, 'build'], { cwd: APP, env: ENV, encoding: 'utf8', timeout: 400_000 });
  if (build.status !== 0) throw new Error(`next build failed (${build.status ?? build.error?.message}):\n${build.stdout}\n${build.stderr}`);
  expect(build.stdout).toMatch(/ƒ \/events/);

  const port = await freePort();
  child = spawn(process.execPath, [NEXT, 'start', '-p', String(port), '-H', '127.0.0.1'], { cwd: APP, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  origin = `http://127.0.0.1:${port}`;
  await waitUntil(() => /Ready in/.test(output) || child.exitCode !== null, 'next start to be ready', 30_000);
  if (child.exitCode !== null) throw new Error(`next start exited:\n${output}`);
}, 480_000);

afterEach(() => {
  for (const close of closers.splice(0)) close();
});

afterAll(async () => {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
});

async function api(method: string, route: string, body?: unknown, token: string | null = TOKEN): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(`${origin}/api${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function consumers(): Promise<number> {
  const res = await api('GET', '');
  return ((await res.json()) as { consumers: number }).consumers;
}

it('serves the page that holds the EventSource', async () => {
  const res = await fetch(origin);
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('ssehub on Next.js');
});

it('opens the stream at once with the SSE headers, and delivers what the publish API posts', async () => {
  const es = new EsClient(`${origin}/events?id=reader`);
  closers.push(() => es.close());
  // Nothing has been broadcast: `open` fires on the headers and the lead alone.
  await es.waitForOpen(1, 5000);
  expect(es.events).toEqual([]);
  const raw = await openWithin(`${origin}/events`, 5000);
  closers.push(() => raw.close());
  expect(raw.status).toBe(200);
  expect(raw.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
  expect(raw.res.headers['cache-control']).toBe('no-cache, no-transform');

  const res = await api('POST', '/broadcast', { event: 'message', data: 'from the API' });
  expect(res.status).toBe(201);
  const { id, consumers: reached } = (await res.json()) as { id: string; consumers: number };
  expect(reached).toBe(2);
  await es.waitForEvents(1);
  await raw.waitForEvents(1);
  expect(es.events).toEqual([{ event: 'message', data: 'from the API', id }]);
  expect(raw.events).toEqual([{ event: 'message', data: 'from the API', id }]);
  expect(raw.retries).toEqual([3000]);

  const toOne = await api('POST', '/clients/reader', { data: 'just you' });
  expect(((await toOne.json()) as { consumers: number }).consumers).toBe(1);
  await es.waitForEvents(2);
  await sleep(100);
  expect(raw.events).toHaveLength(1);
});

it('replays what a Last-Event-ID missed, in order', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push(((await (await api('POST', '/broadcast', { data: `missed ${i}` })).json()) as { id: string }).id);
  const s = await HttpStream.open(`${origin}/events`, { 'Last-Event-ID': ids[0]! });
  closers.push(() => s.close());
  await s.waitForEvents(3);
  expect(s.events.map((e) => [e.data, e.id])).toEqual([1, 2, 3].map((i) => [`missed ${i}`, ids[i]]));
});

it('releases every stream when its client leaves', async () => {
  // The streams of the tests above were closed after each.
  const deadline = Date.now() + 5000;
  while ((await consumers()) !== 0 && Date.now() < deadline) await sleep(50);
  expect(await consumers()).toBe(0);
  const streams = await Promise.all([1, 2, 3].map(() => openWithin(`${origin}/events`, 5000)));
  const until = Date.now() + 5000;
  while ((await consumers()) !== 3 && Date.now() < until) await sleep(50);
  expect(await consumers()).toBe(3);
  for (const s of streams) s.close();
  const gone = Date.now() + 5000;
  while ((await consumers()) !== 0 && Date.now() < gone) await sleep(50);
  expect(await consumers()).toBe(0);
});

it('guards the publish API with the token, and answers 404 JSON outside it', async () => {
  expect((await api('POST', '/broadcast', { data: 'x' }, null)).status).toBe(401);
  expect((await api('POST', '/broadcast', { data: 'x' }, 'wrong')).status).toBe(403);
  const outside = await api('POST', '/nope', { data: 'x' });
  expect(outside.status).toBe(404);
  expect(await outside.json()).toEqual({ error: 'no such route' });
  const head = await api('HEAD', '');
  expect(head.status).toBe(200);
  expect(head.headers.get('x-consumer-count')).toBe('0');
  expect(output).not.toMatch(/Error|⨯/);
});
