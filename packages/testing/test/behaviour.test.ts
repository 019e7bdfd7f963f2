/**
 * The behavioural suite: written once, run against every adapter on every supported major of its
 * framework (Express 5 and 4, Koa 3 and 2, Hono on `@hono/node-server` 2 and 1, Fastify 5 and 4), on a real HTTP
 * server, with the real `eventsource` client, Node's HTTP client plus eventsource-parser, and raw
 * TCP sockets.
 */
import { createHub, type Hub, type HubOptions } from '@ssehub/core';
import { FRAMEWORKS, LEAD, startServer, type AdapterName, type StartOptions, type TestServer } from '../src/servers';
import { EsClient, HttpStream, RawClient, failOnUnhandledRejections, fastifyHeader, sleep, waitUntil } from '../src/clients';

failOnUnhandledRejections();

/** Resolvers that read a header, written once per framework's request object. */
const headerResolvers: Record<AdapterName, StartOptions['sse']> = {
  express: {
    clientId: (req) => req.header('x-user') ?? undefined,
    channels: (req) => (req.header('x-rooms') ?? '').split(',').filter(Boolean),
  },
  koa: {
    clientId: (ctx) => ctx.get('x-user') || undefined,
    channels: (ctx) => ctx.get('x-rooms').split(',').filter(Boolean),
  },
  hono: {
    clientId: (c) => c.req.header('x-user'),
    channels: (c) => (c.req.header('x-rooms') ?? '').split(',').filter(Boolean),
  },
  fastify: {
    clientId: (request) => fastifyHeader(request, 'x-user'),
    channels: (request) => (fastifyHeader(request, 'x-rooms') ?? '').split(',').filter(Boolean),
  },
  fetch: {
    clientId: (request: Request) => request.headers.get('x-user') ?? undefined,
    channels: (request: Request) => (request.headers.get('x-rooms') ?? '').split(',').filter(Boolean),
  },
};

describe.each(FRAMEWORKS)('$name', (framework) => {
  const { adapter } = framework;
  let hub: Hub;
  let server: TestServer;
  const closers: (() => void)[] = [];

  async function setup(options: HubOptions = {}, start: StartOptions = {}): Promise<void> {
    hub = createHub({ heartbeat: 0, ...options });
    server = await startServer(framework, hub, start);
  }
  const url = (query = '') => `${server.origin}/events${query}`;
  function es(query = '', types: string[] = []): EsClient {
    const c = new EsClient(url(query), types);
    closers.push(() => c.close());
    return c;
  }
  async function stream(query = '', headers: Record<string, string> = {}): Promise<HttpStream> {
    const s = await HttpStream.open(url(query), headers);
    closers.push(() => s.close());
    return s;
  }
  async function raw(query = '', headers: Record<string, string> = {}): Promise<RawClient> {
    const r = await RawClient.connect(server.port, `/events${query}`, headers);
    closers.push(() => r.close());
    return r;
  }

  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await hub.close();
    await server.close();
  });

  describe('response', () => {
    it('answers 200 with the SSE headers, sent at once before any event', async () => {
      await setup();
      const s = await stream();
      expect(s.status).toBe(200);
      expect(s.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(s.res.headers['cache-control']).toBe('no-cache, no-transform');
      expect(s.res.headers['x-accel-buffering']).toBe('no');
      // Nothing but the lead (a Web stream's lone comment line) before an event.
      await waitUntil(() => s.raw.length >= LEAD[adapter].length, 'the lead');
      await sleep(20);
      expect(s.raw).toBe(LEAD[adapter]);
      expect(s.events).toEqual([]);
      await waitUntil(() => hub.size === 1, 'the hub to register the stream');
    });

    it('fires EventSource open with no event sent at all', async () => {
      await setup();
      const c = es();
      await c.waitForOpen();
      expect(c.eventsAtOpen).toEqual([0]);
      hub.broadcast({ data: 'first' });
      await c.waitForEvents(1);
      expect(c.events[0]!.data).toBe('first');
    });

    it('sends the retry field first', async () => {
      await setup({ retry: 2500 });
      const s = await stream();
      hub.broadcast({ data: 'x' });
      await s.waitForEvents(1);
      // One line with no blank line: clients that dispatch on every blank line see no empty event.
      expect(s.raw.startsWith(`${LEAD[adapter]}retry: 2500\nid: `)).toBe(true);
      expect(s.retries).toEqual([2500]);
    });

    it('refuses past maxClients in a way EventSource survives, a 503 to others, and keeps serving the rest', async () => {
      await setup({ maxClients: 1 });
      const first = await stream();
      await waitUntil(() => hub.size === 1, 'the first stream');
      const plain = await stream('', { Accept: '*/*' });
      expect(plain.status).toBe(503);
      expect(plain.res.headers['retry-after']).toBe('5');
      expect(plain.res.headers['x-ssehub-refused']).toBe('hub-full');
      const sse = await stream();
      expect(sse.status).toBe(200);
      expect(sse.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(sse.res.headers['x-ssehub-refused']).toBe('hub-full');
      await sse.waitForEnd();
      expect(sse.events).toEqual([]);
      expect(sse.retries).toHaveLength(1);
      hub.broadcast({ data: 'still here' });
      await first.waitForEvents(1);
      expect(hub.size).toBe(1);
    });
  });

  describe('wire format', () => {
    const samples = ['plain', '', ' leading space', 'trailing\n\n', 'multi\nline\ntext', 'nul\0inside', 'emoji 👋🏽 ünï 世界'];

    it('round-trips data exactly through the real EventSource client', async () => {
      await setup();
      const c = es('', ['custom']);
      await c.waitForOpen();
      for (const data of samples) hub.broadcast({ data });
      hub.broadcast({ data: { json: ['x', 1, null] }, event: 'custom' });
      await c.waitForEvents(samples.length + 1);
      expect(c.events.slice(0, samples.length).map((e) => e.data)).toEqual(samples);
      expect(c.events[samples.length]).toMatchObject({ event: 'custom', data: '{"json":["x",1,null]}' });
    });

    it('normalises CR and CRLF in data to LF without injecting fields', async () => {
      await setup();
      const c = es();
      await c.waitForOpen();
      hub.broadcast({ data: 'a\rid: 666\r\nevent: evil\r\rdata: x' });
      await c.waitForEvents(1);
      expect(c.events).toHaveLength(1);
      expect(c.events[0]).toMatchObject({ event: 'message', data: 'a\nid: 666\nevent: evil\n\ndata: x' });
      expect(c.events[0]!.id).not.toBe('666');
    });
  });

  describe('addressing', () => {
    it('routes by the default `channel` and `id` query parameters', async () => {
      await setup();
      const plain = es('');
      const room = es('?channel=room-1&channel=room-2');
      const alice = es('?id=alice');
      await Promise.all([plain.waitForOpen(), room.waitForOpen(), alice.waitForOpen()]);
      hub.broadcast({ data: 'everyone' });
      hub.broadcast({ data: 'room-2 only', channel: 'room-2' });
      expect(hub.broadcastTo('alice', { data: 'alice only' })).toBe(1);
      hub.broadcast({ data: 'end' });
      await Promise.all([plain.waitForEvents(2), room.waitForEvents(3), alice.waitForEvents(3)]);
      expect(plain.events.map((e) => e.data)).toEqual(['everyone', 'end']);
      expect(room.events.map((e) => e.data)).toEqual(['everyone', 'room-2 only', 'end']);
      expect(alice.events.map((e) => e.data)).toEqual(['everyone', 'alice only', 'end']);
      expect(hub.channelSize('room-1')).toBe(1);
    });

    it('uses the clientId and channels resolvers given to sse()', async () => {
      await setup({}, { sse: headerResolvers[adapter] });
      const s = await stream('?id=forged&channel=forged', { 'x-user': 'bob', 'x-rooms': 'a,b' });
      await waitUntil(() => hub.size === 1, 'the stream');
      expect(hub.clients()[0]!.clientId).toBe('bob');
      expect([...hub.clients()[0]!.channels]).toEqual(['a', 'b']);
      hub.broadcastTo('forged', { data: 'not for bob' });
      hub.broadcastTo('bob', { data: 'for bob' });
      hub.broadcast({ data: 'b', channel: 'b' });
      await s.waitForEvents(2);
      expect(s.events.map((e) => e.data)).toEqual(['for bob', 'b']);
    });
  });

  describe('replay', () => {
    it('replays exactly what a Last-Event-ID header missed, then live events', async () => {
      await setup();
      const ids = [1, 2, 3, 4].map((n) => hub.broadcast({ data: String(n) }));
      const s = await stream('', { 'Last-Event-ID': ids[1]! });
      hub.broadcast({ data: '5' });
      await s.waitForEvents(3);
      expect(s.events.map((e) => e.data)).toEqual(['3', '4', '5']);
      expect(s.events.map((e) => e.id)).toEqual([ids[2], ids[3], hub.lastEventId]);
    });

    it('takes the lastEventId query parameter when there is no header', async () => {
      await setup();
      const ids = [1, 2, 3].map((n) => hub.broadcast({ data: String(n) }));
      const s = await stream(`?lastEventId=${ids[0]}`);
      await s.waitForEvents(2);
      expect(s.events.map((e) => e.data)).toEqual(['2', '3']);
    });

    it('refuses event ids a client could not send back unchanged, and looks a Last-Event-ID up exactly as received', async () => {
      await setup();
      // Non-ASCII ids crash or confuse common clients on reconnect (Node refuses or re-encodes the header).
      for (const id of ['ü-n-日本', 'é-n', ' padded', 'tab\tinside', 'x'.repeat(257)]) {
        expect(() => hub.broadcast({ data: 'x', id })).toThrow(TypeError);
      }
      expect(hub.lastEventId).toBeUndefined();
      hub.broadcast({ data: 'before', id: 'Evt ~1/a' });
      hub.broadcast({ data: 'after', id: 'Evt ~2/b' });
      const r = await raw('', { 'Last-Event-ID': 'Evt ~1/a' });
      await waitUntil(() => r.text.includes('data: after'), 'the replayed event');
      expect(r.text).not.toContain('data: before');
      expect(r.text).not.toContain('ssehub-resync');
      // UTF-8 bytes in the header are no id the hub issued: a resync, never a crash or a wrong replay.
      const u = await raw('', { 'Last-Event-ID': 'évènement-1' });
      await waitUntil(() => u.text.includes('ssehub-resync'), 'the resync event');
      expect(u.text).toContain('"reason":"unknown-id"');
      expect(u.text).not.toContain('data: before');
    });

    it('the real EventSource reconnects with its Last-Event-ID and holds every event once, in order', async () => {
      await setup({ retry: 20 });
      const c = es('?id=reader');
      await c.waitForOpen();
      for (let n = 1; n <= 5; n++) hub.broadcast({ data: String(n) });
      await c.waitForEvents(5);
      hub.disconnect('reader');
      // Published while the client is away: must come back through the replay.
      for (let n = 6; n <= 10; n++) hub.broadcast({ data: String(n) });
      await c.waitForOpen(2);
      for (let n = 11; n <= 15; n++) hub.broadcast({ data: String(n) });
      await c.waitForEvents(15);
      await sleep(30);
      expect(c.events.map((e) => e.data)).toEqual(Array.from({ length: 15 }, (_, i) => String(i + 1)));
    });

    it('replays private and channel history only to whom it belongs', async () => {
      await setup();
      const start = hub.broadcast({ data: 'start' });
      hub.broadcastTo('alice', { data: 'alice secret' });
      hub.broadcast({ data: 'news', channel: 'news' });
      hub.broadcast({ data: 'end' });
      const mallory = await stream('?id=mallory', { 'Last-Event-ID': start });
      const alice = await stream('?id=alice&channel=news', { 'Last-Event-ID': start });
      await Promise.all([mallory.waitForEvents(1), alice.waitForEvents(3)]);
      expect(alice.events.map((e) => e.data)).toEqual(['alice secret', 'news', 'end']);
      await sleep(20);
      expect(mallory.events.map((e) => e.data)).toEqual(['end']);
    });

    it('sends the resync event for an unknown, expired or over-long id, with status 200', async () => {
      await setup({ history: 2 });
      const old = hub.broadcast({ data: '1' });
      hub.broadcast({ data: '2' });
      hub.broadcast({ data: '3' });
      for (const lastEventId of [old, 'never-seen', 'x'.repeat(10_000)]) {
        const s = await stream('', { 'Last-Event-ID': lastEventId });
        expect(s.status).toBe(200);
        await s.waitForEvents(1);
        expect(s.events[0]!.event).toBe('ssehub-resync');
        expect(s.events).toHaveLength(1);
        s.close();
      }
    });

    it('fills a gap with initMessages', async () => {
      await setup({ history: 1, initMessages: (client, head) => [{ event: 'state', data: { client, head } }] });
      hub.broadcast({ data: '1' });
      const head = hub.broadcast({ data: '2' });
      const s = await stream('', { 'Last-Event-ID': 'gone' });
      await s.waitForEvents(1);
      expect(s.events[0]).toMatchObject({ event: 'state', data: JSON.stringify({ client: 'gone', head }) });
    });
  });

  describe('slow clients', () => {
    it('evicts a raw client that stopped reading, while the others keep receiving everything', async () => {
      // The bound is well above one burst, so only a client that stopped reading can reach it.
      await setup({ maxBufferedBytes: 1024 * 1024, timeout: 10_000, tolerance: 1 });
      const evicted: string[] = [];
      hub.on('evict', (c, reason) => evicted.push(`${c.clientId}:${reason}`));
      const stalled = await raw('?id=stalled');
      stalled.stopReading();
      const healthy = es('?id=healthy');
      await healthy.waitForOpen();
      await waitUntil(() => hub.size === 2, 'both clients');
      const payload = 'p'.repeat(16 * 1024);
      let sent = 0;
      // Publish until the stalled client is evicted (bounded: at most 64 MiB).
      while (evicted.length === 0 && sent < 4096) {
        for (let i = 0; i < 4; i++, sent++) hub.broadcast({ data: payload });
        await sleep(3);
      }
      expect(evicted).toEqual(['stalled:buffer']);
      await healthy.waitForEvents(sent, 20_000);
      expect(healthy.events).toHaveLength(sent);
      expect(hub.size).toBe(1);
      // Reading again, the evicted client finds its stream ended by the server.
      stalled.socket.resume();
      await waitUntil(() => stalled.closed, 'the evicted socket to be closed', 10_000);
      expect(stalled.received).toBeLessThan(sent * payload.length);
    }, 30_000);

    it('evicts a stalled client after timeout x tolerance even when it stays under the byte bound', async () => {
      await setup({ maxBufferedBytes: 512 * 1024 * 1024, timeout: 50, tolerance: 2 });
      const reasons: string[] = [];
      hub.on('evict', (_c, reason) => reasons.push(reason));
      const stalled = await raw();
      stalled.stopReading();
      await waitUntil(() => hub.size === 1, 'the client');
      const payload = 'q'.repeat(64 * 1024);
      for (let i = 0; i < 400 && reasons.length === 0; i++) {
        hub.broadcast({ data: payload });
        await sleep(1);
      }
      await waitUntil(() => reasons.length > 0, 'the eviction', 10_000);
      expect(reasons).toEqual(['timeout']);
      expect(hub.size).toBe(0);
    });
  });

  describe('release', () => {
    it('drops a client within milliseconds of it closing, and never writes after', async () => {
      await setup({ heartbeat: 10 });
      const disconnects: string[] = [];
      hub.on('disconnect', (c) => disconnects.push(c.clientId ?? ''));
      const c = es('?id=leaver');
      await c.waitForOpen();
      c.close();
      await waitUntil(() => hub.size === 0, 'the hub to drop the client', 2000);
      expect(disconnects).toEqual(['leaver']);
      // Broadcasts and heartbeats after the close reach no one and raise nothing.
      hub.broadcast({ data: 'into the void' });
      await sleep(30);
      expect(hub.size).toBe(0);
    });

    it('sends heartbeat comments', async () => {
      await setup({ heartbeat: 20 });
      const s = await stream();
      await waitUntil(() => s.comments.length >= 2, 'two heartbeats');
      expect(s.events).toHaveLength(0);
    });

    it('hub.close() ends every stream', async () => {
      await setup();
      const s = await stream();
      await waitUntil(() => hub.size === 1, 'the stream');
      await hub.close();
      await s.waitForEnd();
      expect(hub.size).toBe(0);
    });
  });
});
