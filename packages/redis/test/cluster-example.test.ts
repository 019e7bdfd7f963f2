/**
 * Starts examples/cluster as its README says (node:cluster, one hub per worker, Redis between them)
 * and checks that streams served by different workers receive the same events in the same order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { HttpStream, waitUntil } from '../../testing/src/clients';
import { dropPrefix, freePort, requireRedis, uniquePrefix, REDIS_URL } from './redis-helpers';

jest.setTimeout(60_000);

const exampleDir = path.resolve(__dirname, '../../../examples/cluster');
let proc: ChildProcess | undefined;
let output = '';
const prefix = uniquePrefix('example');
const streams: HttpStream[] = [];

beforeAll(() => requireRedis());
afterAll(async () => {
  for (const s of streams) s.close();
  if (proc && proc.exitCode === null) {
    const exited = new Promise((resolve) => proc!.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  }
  await dropPrefix(prefix);
});

function post(port: number, body: unknown): Promise<{ worker: number; id: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/publish', method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('the cluster example: streams on different workers get every event, whichever worker published it', async () => {
  const port = await freePort();
  // What `pnpm start` runs (tsx), with node's own --import so the workers inherit it.
  proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: exampleDir,
    env: { ...process.env, PORT: String(port), WORKERS: '2', REDIS_URL, SSEHUB_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  await waitUntil(() => (output.match(/joined the shared stream/g) ?? []).length === 2, `two workers to join (output: ${output})`, 30_000);

  for (let i = 0; i < 4; i++) streams.push(await HttpStream.open(`http://127.0.0.1:${port}/events`));
  const workers = new Set(streams.map((s) => s.res.headers['x-worker']));
  expect(workers.size).toBe(2);

  const published: { worker: number; id: string }[] = [];
  for (let n = 0; n < 6; n++) published.push(await post(port, { text: `hello ${n}` }));
  expect(new Set(published.map((p) => p.worker)).size).toBe(2);
  for (const s of streams) await s.waitForEvents(6);
  // Redis orders concurrent publishers; every worker delivers that one order.
  const order = streams[0]!.events.map((e) => e.id);
  expect([...order].sort()).toEqual(published.map((p) => p.id).sort());
  for (const s of streams) expect(s.events.map((e) => e.id)).toEqual(order);
  expect(streams[1]!.events.map((e) => JSON.parse(e.data).text).sort()).toEqual([0, 1, 2, 3, 4, 5].map((n) => `hello ${n}`));
});
