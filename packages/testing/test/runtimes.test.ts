/**
 * @ssehub/hono and @ssehub/fetch on the real Bun (`Bun.serve({ fetch })`) and the real Deno
 * (`Deno.serve(handler)`), each a child process serving packages/testing/runtime/app.ts (Hono) or
 * fetch-app.ts (`@ssehub/fetch`'s handlers, no framework) from the TypeScript sources; this Node
 * process is the client (the `eventsource` package, fetch-event-source and Node's http).
 * Both binaries come from npm packages (devDependencies of @ssehub/testing): when one is missing,
 * these tests fail, saying so; they never skip.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import { fetchEventSource } from '@microsoft/fetch-event-source';
import { EsClient, HttpStream, sleep, waitUntil } from '../src/clients';
import {
  broadcast,
  disconnectClient,
  hubState,
  openWithin,
  startRuntime,
  type RuntimeApp,
  type RuntimeName,
  type RuntimeServer,
} from '../src/runtimes';

jest.setTimeout(20_000);

async function waitForState(origin: string, check: (s: { size: number; connects: number }) => boolean, what: string) {
  let last = { size: -1, connects: -1 };
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    last = await hubState(origin);
    if (check(last)) return last;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}: /state says ${JSON.stringify(last)}`);
}

const CASES: [RuntimeApp, RuntimeName][] = [
  ['hono', 'bun'],
  ['hono', 'deno'],
  ['fetch', 'bun'],
  ['fetch', 'deno'],
];

describe.each(CASES)('%s on %s', (app, runtime) => {
  let server: RuntimeServer;
  const streams: HttpStream[] = [];
  const clients: EsClient[] = [];

  beforeAll(async () => {
    // No heartbeat within a test's time: nothing but the stream's own first chunk may carry the headers.
    server = await startRuntime(runtime, { HEARTBEAT: '60000' }, app);
  }, 40_000);

  afterEach(() => {
    for (const s of streams.splice(0)) s.close();
    for (const c of clients.splice(0)) c.close();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('sends the headers and one lone comment line at once, so open fires before anything is broadcast', async () => {
    const stream = await openWithin(`${server.origin}/events`, 3000);
    streams.push(stream);
    expect(stream.status).toBe(200);
    expect(stream.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await waitUntil(() => stream.raw.length > 0, 'the first chunk', 3000);
    await sleep(100);
    // ":\n" and nothing else: a comment line and no blank line, so no client dispatches an (empty) event for it.
    expect(stream.raw).toBe(':\n');
    expect(stream.comments).toEqual(['']);
    expect(stream.events).toEqual([]);

    const es = new EsClient(`${server.origin}/events`);
    clients.push(es);
    await es.waitForOpen(1, 3000);
    expect(es.events).toEqual([]);
    await broadcast(server.origin, 'first');
    await es.waitForEvents(1);
    await stream.waitForEvents(1);
    expect(es.eventsAtOpen).toEqual([0]);
    expect(es.events.map((e) => e.data)).toEqual(['first']);
    expect(stream.events.map((e) => e.data)).toEqual(['first']);
  });

  it('gives fetch-event-source, which dispatches on every blank line, no event for the lead', async () => {
    // Made for browsers: when aborted it reaches for `window` and `document`, which Node lacks.
    const g = globalThis as { window?: unknown; document?: unknown };
    const shimmed = !('window' in g) && !('document' in g);
    if (shimmed) {
      g.window = globalThis;
      g.document = { hidden: false, addEventListener() {}, removeEventListener() {} };
    }
    const abort = new AbortController();
    const seen: { data: string; event: string; id: string }[] = [];
    let opened = false;
    const done = fetchEventSource(`${server.origin}/events`, {
      signal: abort.signal,
      openWhenHidden: true,
      fetch,
      onopen: async (res) => {
        expect(res.status).toBe(200);
        opened = true;
      },
      onmessage: (m) => seen.push({ data: m.data, event: m.event, id: m.id }),
      onerror: (err) => {
        throw err;
      },
    });
    try {
      await waitUntil(() => opened, 'fetch-event-source to open', 3000);
      await sleep(200);
      expect(seen).toEqual([]);
      const id = await broadcast(server.origin, 'after the lead');
      await waitUntil(() => seen.length > 0, 'the event', 3000);
      await sleep(100);
      expect(seen).toEqual([{ data: 'after the lead', event: '', id }]);
    } finally {
      abort.abort();
      await done;
      if (shimmed) {
        delete g.window;
        delete g.document;
      }
    }
  });

  it('gzips the stream for a client that accepts it, the lead first and at once', async () => {
    const gunzip = zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
    let text = '';
    gunzip.setEncoding('utf8');
    gunzip.on('data', (t: string) => (text += t));
    gunzip.on('error', () => {});
    const req = http.get(`${server.origin}/gzip-events`, { headers: { 'Accept-Encoding': 'gzip' } });
    req.on('error', () => {});
    try {
      const res = await new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve));
      res.pipe(gunzip);
      expect(res.headers['content-encoding']).toBe('gzip');
      await waitUntil(() => text.length > 0, 'the first decompressed bytes', 3000);
      await sleep(100);
      expect(text).toBe(':\n');
      const id = await broadcast(server.origin, 'squeezed');
      await waitUntil(() => text.endsWith('\n\n'), 'the event, decompressed', 3000);
      expect(text).toBe(`:\nid: ${id}\ndata: squeezed\n\n`);
    } finally {
      req.destroy();
      gunzip.destroy();
    }
  });

  it('delivers broadcasts in order', async () => {
    const es = new EsClient(`${server.origin}/events`, ['tick']);
    clients.push(es);
    await es.waitForOpen(1, 3000);
    const sent: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      sent.push(`${runtime}-${i}`);
      ids.push(await broadcast(server.origin, `${runtime}-${i}`, i % 2 ? { event: 'tick' } : {}));
    }
    await es.waitForEvents(30);
    expect(es.events.map((e) => e.data)).toEqual(sent);
    expect(es.events.map((e) => e.id)).toEqual(ids);
    expect(es.events.map((e) => e.event)).toEqual(sent.map((_, i) => (i % 2 ? 'tick' : 'message')));
  });

  it('replays what a reconnect with Last-Event-ID missed', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await broadcast(server.origin, `missed-${i}`));
    const resumed = await openWithin(`${server.origin}/events`, 3000, { 'Last-Event-ID': ids[1]! });
    streams.push(resumed);
    await resumed.waitForEvents(3);
    expect(resumed.events).toEqual([2, 3, 4].map((i) => ({ event: 'message', data: `missed-${i}`, id: ids[i] })));
    const live = await broadcast(server.origin, 'live');
    await resumed.waitForEvents(4);
    expect(resumed.events[3]).toEqual({ event: 'message', data: 'live', id: live });

    // The eventsource client reconnects by itself after the server ends its stream, sending the last id it saw.
    const es = new EsClient(`${server.origin}/events?id=es-${runtime}`);
    clients.push(es);
    await es.waitForOpen(1, 3000);
    // `retry: 300` with it, so the client comes back quickly.
    await broadcast(server.origin, 'before', { retry: 300 });
    await es.waitForEvents(1);
    expect(await disconnectClient(server.origin, `es-${runtime}`)).toBe(1);
    const after = [await broadcast(server.origin, 'after-0'), await broadcast(server.origin, 'after-1')];
    await es.waitForOpen(2, 5000);
    await es.waitForEvents(3);
    await sleep(100);
    expect(es.events.map((e) => e.data)).toEqual(['before', 'after-0', 'after-1']);
    expect(es.events.slice(1).map((e) => e.id)).toEqual(after);
  });

  it("releases the hub's connection when the client disconnects", async () => {
    await waitForState(server.origin, (s) => s.size === 0, 'no stream open');
    const stream = await openWithin(`${server.origin}/events`, 3000);
    streams.push(stream);
    await waitForState(server.origin, (s) => s.size === 1, 'the stream to be counted');
    stream.close();
    await waitForState(server.origin, (s) => s.size === 0, 'the closed stream to be released');

    // A client that leaves while `authorize` still runs: the stream is registered after it has gone.
    const before = await hubState(server.origin);
    const req = http.get(`${server.origin}/slow-events`);
    req.on('error', () => {});
    await sleep(100);
    req.destroy();
    const after = await waitForState(server.origin, (s) => s.connects > before.connects && s.size === 0, 'the late stream to be released');
    expect(after.connects).toBe(before.connects + 1);
  });

  it('writes nothing on stderr (on Deno: no request.signal legacy-abort warning)', async () => {
    // The streams above completed in every way: cancelled by the client, ended by the server, left early.
    await sleep(300);
    expect(server.stderr()).toBe('');
  });
});

/** What `@ssehub/fetch`'s handlers answer besides streams, under each runtime's own server. */
describe.each<RuntimeName>(['bun', 'deno'])('@ssehub/fetch answers on %s', (runtime) => {
  let server: RuntimeServer;

  beforeAll(async () => {
    server = await startRuntime(runtime, { HEARTBEAT: '60000' }, 'fetch');
  }, 40_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('answers other methods on the stream with 405 and Allow: GET, opening nothing', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS']) {
      const res = await fetch(`${server.origin}/events`, { method });
      expect([method, res.status, res.headers.get('allow')]).toEqual([method, 405, 'GET']);
      expect(await res.text()).toBe('');
    }
    expect((await hubState(server.origin)).connects).toBe(0);
  });

  it('serves the publish API: a POST reaches the stream, GET and HEAD count, paths outside it get 404 JSON', async () => {
    const stream = await openWithin(`${server.origin}/events?channel=room`, 3000);
    try {
      const res = await fetch(`${server.origin}/api/channels/room`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ event: 'note', data: { n: 1 } }),
      });
      expect(res.status).toBe(201);
      const { id, consumers } = (await res.json()) as { id: string; consumers: number };
      expect(consumers).toBe(1);
      await stream.waitForEvents(1);
      expect(stream.events).toEqual([{ event: 'note', data: '{"n":1}', id }]);

      const info = await fetch(`${server.origin}/api/channels/room`);
      expect(await info.json()).toMatchObject({ channel: 'room', consumers: 1 });
      const head = await fetch(`${server.origin}/api`, { method: 'HEAD' });
      expect(head.headers.get('x-consumer-count')).toBe('1');
      expect(await head.text()).toBe('');

      for (const path of ['/api/nope', '/api/channels', '/api/broadcast/x']) {
        const outside = await fetch(`${server.origin}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"data":1}' });
        expect([path, outside.status]).toEqual([path, 404]);
        expect(await outside.json()).toEqual({ error: 'no such route' });
      }
      const bad = await fetch(`${server.origin}/api/broadcast`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"nodata":1}' });
      expect(bad.status).toBe(400);
      await sleep(100);
      expect(stream.events).toHaveLength(1);
    } finally {
      stream.close();
    }
    await waitForState(server.origin, (s) => s.size === 0, 'the stream to be released');
    await sleep(200);
    expect(server.stderr()).toBe('');
  });
});
