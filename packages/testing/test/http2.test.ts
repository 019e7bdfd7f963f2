/**
 * HTTP/2, where a browser multiplexes every EventSource of an origin over one connection instead of
 * the six HTTP/1.1 allows. Each adapter that runs on `node:http2` (Koa, Hono on `@hono/node-server`,
 * Fastify 5 and 4) is served by a secure HTTP/2 server with a self-signed certificate made here by
 * `openssl`, and read by Node's own HTTP/2 client on ONE session: many concurrent streams all get
 * every event, a reset stream releases its hub client at once while the others go on, and replay
 * from Last-Event-ID works. No response carries the connection headers HTTP/2 forbids.
 * Express does not run on `node:http2` (it gives node:http2's request Express's own prototype, which
 * extends node:http's): the last test shows what happens. The alternative for every adapter, Express
 * included, is a proxy terminating HTTP/2: nginx in front of each, with the same checks.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createParser } from 'eventsource-parser';
import Koa from 'koa';
import Router from '@koa/router';
import { Hono } from 'hono';
import { serve as serveHono } from '@hono/node-server';
import Fastify from 'fastify';
import { createHub, type Hub, type HubOptions } from '@ssehub/core';
import { sse as koaSse } from '@ssehub/koa';
import { sse as honoSse } from '@ssehub/hono';
import { sse as fastifySse } from '@ssehub/fastify';
import { failOnUnhandledRejections, waitUntil } from '../src/clients';
import { Nginx } from '../src/nginx';
import { ADAPTERS, startServer, type TestServer } from '../src/servers';

failOnUnhandledRejections();
jest.setTimeout(20_000);

const Fastify4: typeof Fastify = require('fastify-4');

/** A self-signed certificate for 127.0.0.1, made once for this file. */
let tls: { key: Buffer; cert: Buffer };
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ssehub-h2-'));
  const key = path.join(tmp, 'key.pem');
  const cert = path.join(tmp, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  tls = { key: readFileSync(key), cert: readFileSync(cert) };
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A secure HTTP/2 server with the stream at /events, and how many HTTP/2 sessions it accepted. */
interface H2Server {
  origin: string;
  sessions(): number;
  close(): Promise<void>;
}

type Start = (hub: Hub) => Promise<H2Server>;

/** Listens on 127.0.0.1, counts sessions, and closes them all on close(). */
async function listen(server: http2.Http2SecureServer, listening = false): Promise<H2Server> {
  const open = new Set<http2.ServerHttp2Session>();
  let sessions = 0;
  server.on('session', (s) => {
    sessions++;
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  if (!listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sessions: () => sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Each adapter that runs on node:http2, the way its users would start it there. */
const ADAPTERS_ON_H2: [string, Start][] = [
  [
    'koa',
    (hub) => {
      const app = new Koa();
      const router = new Router();
      router.get('/events', koaSse(hub));
      app.use(router.routes());
      return listen(http2.createSecureServer(tls, app.callback()));
    },
  ],
  [
    'hono on node-server 2',
    async (hub) => {
      const app = new Hono();
      app.get('/events', honoSse(hub));
      const server = await new Promise<http2.Http2SecureServer>((resolve) => {
        const s = serveHono(
          { fetch: app.fetch, hostname: '127.0.0.1', port: 0, createServer: http2.createSecureServer, serverOptions: tls },
          () => resolve(s as http2.Http2SecureServer),
        );
      });
      return listen(server, true);
    },
  ],
  ...[
    ['fastify 5', Fastify],
    ['fastify 4', Fastify4],
  ].map(([name, make]): [string, Start] => [
    name as string,
    async (hub) => {
      const app = (make as typeof Fastify)({ http2: true, https: tls });
      app.get('/events', fastifySse(hub));
      await app.ready();
      const h2 = await listen(app.server);
      return { ...h2, close: async () => (await h2.close(), await app.close()) };
    },
  ]),
];

/** One SSE stream on an HTTP/2 session: its response headers and the events it parsed. */
class H2Stream {
  headers: http2.IncomingHttpHeaders | undefined;
  readonly events: { id: string | undefined; data: string }[] = [];
  closed = false;
  constructor(readonly req: http2.ClientHttp2Stream) {
    const parser = createParser({ onEvent: (e) => this.events.push({ id: e.id, data: e.data }) });
    req.on('response', (h) => (this.headers = h));
    req.setEncoding('utf8');
    req.on('data', (s: string) => parser.feed(s));
    req.on('close', () => (this.closed = true));
    req.on('error', () => undefined);
  }
  static open(session: http2.ClientHttp2Session, query = '', headers: Record<string, string> = {}): H2Stream {
    return new H2Stream(session.request({ ':path': `/events${query}`, accept: 'text/event-stream', ...headers }));
  }
}

describe.each(ADAPTERS_ON_H2)('%s on node:http2 (TLS)', (_name, start) => {
  let hub: Hub;
  let server: H2Server;
  let session: http2.ClientHttp2Session;

  beforeEach(async () => {
    hub = createHub({ heartbeat: 0 });
    server = await start(hub);
    session = http2.connect(server.origin, { ca: tls.cert });
    session.on('error', () => undefined);
  });
  afterEach(async () => {
    session.close();
    await hub.close();
    await server.close();
  });

  it('serves 12 concurrent streams on one connection, each receiving every event, with no connection headers', async () => {
    const streams = Array.from({ length: 12 }, (_, i) => H2Stream.open(session, `?id=tab-${i}`));
    await waitUntil(() => hub.size === 12 && streams.every((s) => s.headers !== undefined), 'twelve streams');
    for (const s of streams) {
      expect(s.headers![':status']).toBe(200);
      expect(s.headers!['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(s.headers!['connection']).toBeUndefined();
      expect(s.headers!['transfer-encoding']).toBeUndefined();
    }
    const ids = Array.from({ length: 20 }, (_, n) => hub.broadcast({ data: `event ${n}` }));
    await waitUntil(() => streams.every((s) => s.events.length === 20), 'every stream to get every event');
    for (const s of streams) expect(s.events.map((e) => e.id)).toEqual(ids);
    expect(server.sessions()).toBe(1);
  });

  it('releases the hub client of a reset stream at once; the other streams on the connection go on', async () => {
    const streams = Array.from({ length: 10 }, (_, i) => H2Stream.open(session, `?id=s${i}`));
    await waitUntil(() => hub.size === 10 && streams.every((s) => s.headers !== undefined), 'ten streams');
    const resetAt = Date.now();
    streams[3]!.req.close(http2.constants.NGHTTP2_CANCEL);
    await waitUntil(() => hub.size === 9, 'the reset stream to be released', 1000);
    expect(Date.now() - resetAt).toBeLessThan(250);
    expect(hub.clientSize('s3')).toBe(0);
    const id = hub.broadcast({ data: 'after the reset' });
    const rest = streams.filter((_, i) => i !== 3);
    await waitUntil(() => rest.every((s) => s.events.at(-1)?.id === id), 'the others to get the next event');
    expect(streams[3]!.events).toEqual([]);
    expect(session.closed).toBe(false);
    expect(server.sessions()).toBe(1);
  });

  it('replays what a Last-Event-ID missed, then live events', async () => {
    const ids = [1, 2, 3, 4].map((n) => hub.broadcast({ data: String(n) }));
    const s = H2Stream.open(session, '', { 'last-event-id': ids[1]! });
    await waitUntil(() => hub.size === 1, 'the stream');
    hub.broadcast({ data: '5' });
    await waitUntil(() => s.events.length === 3, 'the replay and the live event');
    expect(s.events.map((e) => e.data)).toEqual(['3', '4', '5']);
    expect(s.events.map((e) => e.id)).toEqual([ids[2], ids[3], hub.lastEventId]);
  });
});

describe.each(ADAPTERS)('%s behind nginx terminating HTTP/2', (adapter) => {
  let hub: Hub;
  let server: TestServer;
  let nginx: Nginx;
  let session: http2.ClientHttp2Session;

  async function setup(options: HubOptions): Promise<void> {
    hub = createHub({ heartbeat: 0, ...options });
    server = await startServer(adapter, hub);
    nginx = await Nginx.start(server.port, { tls: { cert: path.join(tmp, 'cert.pem'), key: path.join(tmp, 'key.pem') } });
    session = http2.connect(nginx.origin, { ca: tls.cert });
    session.on('error', () => undefined);
  }
  afterEach(async () => {
    session.close();
    await hub.close();
    await server.close();
    await nginx.stop();
  });

  it('serves 10 streams multiplexed on one client connection, each receiving every event; a reset one is released; replay works', async () => {
    // The retry line goes out as each stream opens: nginx's HTTP/2 sends the headers with the first bytes.
    await setup({ retry: 1000 });
    const streams = Array.from({ length: 10 }, (_, i) => H2Stream.open(session, `?id=tab-${i}`));
    await waitUntil(() => hub.size === 10 && streams.every((s) => s.headers !== undefined), 'ten streams through nginx');
    for (const s of streams) {
      expect(s.headers![':status']).toBe(200);
      expect(s.headers!['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(s.headers!['connection']).toBeUndefined();
    }
    const ids = Array.from({ length: 10 }, (_, n) => hub.broadcast({ data: `event ${n}` }));
    await waitUntil(() => streams.every((s) => s.events.length === 10), 'every stream to get every event');
    for (const s of streams) expect(s.events.map((e) => e.id)).toEqual(ids);

    streams[0]!.req.close(http2.constants.NGHTTP2_CANCEL);
    await waitUntil(() => hub.size === 9, 'nginx to close the reset stream upstream', 2000);
    expect(hub.clientSize('tab-0')).toBe(0);

    const missed = hub.broadcast({ data: 'while away' });
    const back = H2Stream.open(session, '?id=tab-0', { 'last-event-id': ids[9]! });
    await waitUntil(() => back.events.length === 1, 'the replay through nginx');
    expect(back.events.map((e) => e.id)).toEqual([missed]);
  });

  it('sends the headers at once, with no retry and no heartbeat: the stream lead gets them past nginx, which holds headers until the first body bytes', async () => {
    await setup({});
    const s = H2Stream.open(session);
    await waitUntil(() => hub.size === 1, 'the stream upstream');
    await waitUntil(() => s.headers !== undefined, 'the headers before any event');
    expect(s.headers![':status']).toBe(200);
    expect(s.events).toEqual([]);
    hub.broadcast({ data: 'first' });
    await waitUntil(() => s.events.length === 1, 'the first event');
  });
});

it('Koa serves a stream on cleartext node:http2 (h2c) as well', async () => {
  const hub = createHub({ heartbeat: 0 });
  const app = new Koa();
  app.use(koaSse(hub));
  const server = http2.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const s = H2Stream.open(session);
    await waitUntil(() => s.headers !== undefined && hub.size === 1, 'the response headers');
    expect(s.headers![':status']).toBe(200);
    const id = hub.broadcast({ data: 'over h2c' });
    await waitUntil(() => s.events.length === 1, 'the event');
    expect(s.events).toEqual([{ id, data: 'over h2c' }]);
    s.req.close();
    await waitUntil(() => hub.size === 0, 'the closed stream to be released');
  } finally {
    session.close();
    await hub.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

it('Express does not run on node:http2: its process dies on the first request, and no stream opens', async () => {
  // In a process of its own: the error is thrown where no handler of Express or ssehub can catch it.
  const root = path.resolve(__dirname, '../../..');
  const child = spawn(
    process.execPath,
    [require.resolve('tsx/cli', { paths: [path.join(root, 'bench')] }), 'packages/testing/src/express-on-http2.ts', path.join(tmp, 'key.pem'), path.join(tmp, 'cert.pem')],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let session: http2.ClientHttp2Session | undefined;
  try {
    await waitUntil(() => /listening \d+/.test(out), 'the Express server to listen', 15_000);
    const port = /listening (\d+)/.exec(out)![1];
    session = http2.connect(`https://127.0.0.1:${port}`, { ca: tls.cert });
    session.on('error', () => undefined);
    const s = H2Stream.open(session);
    expect(await exited).toBe(1);
    await waitUntil(() => s.closed, 'the stream to end with the server');
    expect(s.headers?.[':status']).toBeUndefined();
    expect(s.events).toEqual([]);
    expect(err).toMatch(/TypeError: Cannot read properties of undefined \(reading 'readable'\)\n\s+at IncomingMessage\._read/);
  } finally {
    session?.destroy();
    child.kill();
  }
});
