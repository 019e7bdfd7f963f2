/**
 * Shutdown, draining, refusals and restarts, on real servers per adapter with the real `eventsource`
 * client and raw sockets: nothing stays pinned to a hub going away, streams end spread over the
 * drain window, refused EventSource clients come back by themselves, `maxLifetime` loses nothing,
 * and an id from an earlier process gets what this one published with a `restart` signal.
 * (Whole processes restarted under Chromium and the clients: packages/testing/browser/restart.test.ts.)
 */
import net from 'node:net';
import { createHub, type Hub, type HubOptions } from '@ssehub/core';
import { ADAPTERS, startServer, type StartOptions, type TestServer } from '../src/servers';
import { EsClient, HttpStream, failOnUnhandledRejections, sleep, waitUntil } from '../src/clients';

failOnUnhandledRejections();
jest.setTimeout(20_000);

describe.each(ADAPTERS)('%s adapter', (adapter) => {
  let hub: Hub;
  let server: TestServer;
  const closers: (() => void)[] = [];

  async function setup(options: HubOptions = {}, start: StartOptions = {}): Promise<void> {
    hub = createHub({ heartbeat: 0, ...options });
    server = await startServer(adapter, hub, start);
  }
  async function stream(query = '', headers: Record<string, string> = {}): Promise<HttpStream> {
    const s = await HttpStream.open(`${server.origin}/events${query}`, headers);
    closers.push(() => s.close());
    return s;
  }
  function es(query = ''): EsClient {
    const c = new EsClient(`${server.origin}/events${query}`);
    closers.push(() => c.close());
    return c;
  }
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await hub.close();
    await server.close();
  });

  describe('drain', () => {
    it('ends the streams spread over the window and refuses new ones in a way EventSource survives, then closes the hub', async () => {
      await setup();
      const streams = await Promise.all(Array.from({ length: 20 }, (_, i) => stream(`?id=c${i}`)));
      await waitUntil(() => hub.size === 20, 'twenty streams');
      const endedAt: number[] = [];
      for (const s of streams) s.res.on('end', () => endedAt.push(Date.now()));

      const started = Date.now();
      const drained = hub.drain({ within: 1000 });
      expect(hub.state).toBe('draining');
      // Broadcasts still reach the streams not yet ended.
      await sleep(300);
      hub.broadcast({ data: 'while draining' });
      // Arriving now: an EventSource is told to come back, anything else gets 503; both close their connection.
      const late = await rawGet(server.port, '/events', 'text/event-stream');
      const plain = await rawGet(server.port, '/events', '*/*');
      await drained;

      expect(hub.state).toBe('closed');
      await waitUntil(() => endedAt.length === 20, 'every client to see its stream end');
      const spread = endedAt.map((t) => t - started).sort((a, b) => a - b);
      expect(spread[0]).toBeLessThan(250);
      expect(spread[19]).toBeGreaterThan(700);
      expect(spread[19]).toBeLessThan(1600);
      // Some streams were still open when the broadcast went out, and they got it.
      expect(streams.filter((s) => s.events.some((e) => e.data === 'while draining')).length).toBeGreaterThan(5);
      expect(late).toMatch(/^HTTP\/1\.1 200 /);
      expect(late.toLowerCase()).toContain('x-ssehub-refused: shutting-down');
      // @ssehub/fetch too: behind the node:http bridge it knows the request is HTTP/1.1.
      expect(late.toLowerCase()).toContain('connection: close');
      expect(late).toMatch(/\r\n\r\n(?:[0-9a-f]+\r\n)?retry: \d+\n: ssehub: shutting down/);
      expect(plain).toMatch(/^HTTP\/1\.1 503 /);
    });

    it('given the server: it stops accepting at once, and closes with its idle keep-alive connections within the bound', async () => {
      await setup();
      const streams = await Promise.all(Array.from({ length: 4 }, () => stream()));
      // An idle keep-alive connection of another route's client.
      const idle = net.connect(server.port, '127.0.0.1');
      let idleClosed = false;
      idle.on('close', () => (idleClosed = true));
      idle.on('error', () => undefined);
      idle.write('GET /not-here HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitUntil(() => hub.size === 4, 'four streams');
      let serverClosedAt = 0;
      server.server.on('close', () => (serverClosedAt = Date.now()));
      const started = Date.now();
      await hub.drain({ within: 400, server: server.server, grace: 300 });
      expect(Date.now() - started).toBeLessThan(400 + 300 + 500);
      expect(serverClosedAt).toBeGreaterThan(0);
      expect(idleClosed).toBe(true);
      await Promise.all(streams.map((s) => s.waitForEnd()));
      await expect(rawGet(server.port, '/events', 'text/event-stream')).rejects.toThrow(/ECONNREFUSED/);
    });

    it('with within: 0 ends every stream at once', async () => {
      await setup();
      const streams = await Promise.all(Array.from({ length: 5 }, () => stream()));
      await waitUntil(() => hub.size === 5, 'five streams');
      const started = Date.now();
      await hub.drain({ within: 0 });
      await Promise.all(streams.map((s) => s.waitForEnd()));
      expect(Date.now() - started).toBeLessThan(500);
      expect(hub.closed).toBe(true);
    });
  });

  describe('shutdown in either order', () => {
    // server.close() first, then hub.close(): on 'fetch' the ended streams' connections stay open as
    // idle keep-alive ones (a Fetch response does not close its connection, see above), which
    // node:http's close() closed only if idle when it was called: left out there, for that reason.
    it.each(
      (
        [
          ['server.close() then hub.close()', true],
          ['hub.close() then server.close()', false],
        ] as const
      ).filter(([, serverFirst]) => !(serverFirst && adapter === 'fetch')),
    )('%s: every stream connection is released and the server closes at once', async (_name, serverFirst) => {
      await setup({ retry: 50 });
      const clients = [es('?id=a'), es('?id=b'), es('?id=c')];
      await Promise.all(clients.map((c) => c.waitForOpen()));
      hub.broadcast({ data: 'before' });
      await Promise.all(clients.map((c) => c.waitForEvents(1)));
      let closedAt = 0;
      const closeServer = () => new Promise<void>((resolve) => server.server.close(() => ((closedAt = Date.now()), resolve())));
      const started = Date.now();
      let closed: Promise<void>;
      if (serverFirst) {
        closed = closeServer();
        await hub.close();
      } else {
        await hub.close();
        closed = closeServer();
      }
      await Promise.race([closed, sleep(3000)]);
      // No keep-alive connection stays pinned: the server finished closing by itself, within a second.
      expect(closedAt).toBeGreaterThan(0);
      expect(closedAt - started).toBeLessThan(1000);
      // The clients try again (to a server that is gone): none got a 503 that would stop it for good.
      await waitUntil(() => clients.every((c) => c.errors > 0), 'every client to notice');
      for (const c of clients) expect(c.es.readyState).not.toBe(2);
    });
  });

  describe('refusals', () => {
    it('a refused EventSource comes back by itself and gets in once there is room, losing nothing', async () => {
      await setup({ maxClients: 2, retry: 100 }, { sse: { retryAfter: 1 } });
      const a = es('?id=a');
      const b = es('?id=b');
      await Promise.all([a.waitForOpen(), b.waitForOpen()]);
      const late = es('?id=late');
      // Refused: a 200 that sets retry: and ends, which EventSource treats as a dropped stream.
      await waitUntil(() => late.errors >= 1, 'the refusal');
      expect(hub.clientSize('late')).toBe(0);
      expect(late.es.readyState).not.toBe(2);
      a.close();
      await waitUntil(() => hub.clientSize('late') === 1, 'the refused client to get in', 5000);
      const id = hub.broadcast({ data: 'for everyone' });
      await late.waitForEvents(1);
      expect(late.events.map((e) => e.id)).toEqual([id]);

      // A client that was in, then refused on reconnect, resumes from its Last-Event-ID: nothing is lost.
      const filler = es('?id=filler');
      hub.disconnect('late');
      await waitUntil(() => hub.clientSize('filler') === 1, 'the filler to take the free slot');
      const missed = [hub.broadcast({ data: 'missed 1' }), hub.broadcast({ data: 'missed 2' })];
      await waitUntil(() => late.errors >= 3, 'the refused reconnects');
      filler.close();
      await waitUntil(() => hub.clientSize('late') === 1, 'the client back in', 5000);
      await late.waitForEvents(3);
      expect(late.events.map((e) => e.id)).toEqual([id, ...missed]);
    });
  });

  describe('maxLifetime', () => {
    it('ends streams between 75% and 100% of it; the client resumes and loses nothing while events flow', async () => {
      await setup({ maxLifetime: 400, retry: 20 });
      const c = es('?id=long');
      await c.waitForOpen();
      const sent: string[] = [];
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        sent.push(hub.broadcast({ data: String(sent.length) }));
        await sleep(10);
      }
      await c.waitForEvents(sent.length);
      await sleep(50);
      expect(c.opens).toBeGreaterThanOrEqual(4);
      expect(c.opens).toBeLessThanOrEqual(8);
      expect(c.events.map((e) => e.id)).toEqual(sent);
    });
  });

  describe('restart continuity', () => {
    it("an earlier process's id gets everything this process published, after a 'restart' signal that keeps the client's id", async () => {
      // The earlier process.
      const before = createHub({ heartbeat: 0 });
      const old = before.broadcast({ data: 'from the old process' });
      await before.close();
      await sleep(5);
      await setup({ history: 100 });
      const published = [hub.broadcast({ data: 'new 1' }), hub.broadcast({ data: 'new 2', channel: 'elsewhere' }), hub.broadcast({ data: 'new 3' })];
      const s = await stream('', { 'Last-Event-ID': old });
      await s.waitForEvents(3);
      expect(s.events[0]!.event).toBe('ssehub-resync');
      expect(JSON.parse(s.events[0]!.data)).toMatchObject({ reason: 'restart', lastEventId: old });
      // The signal carries no id, so a client dropped now comes back with its old id and gets all again.
      expect(s.events[0]!.id).toBeUndefined();
      expect(s.raw).toMatch(/(^|\n)event: ssehub-resync\ndata: [^\n]*\n\n/);
      expect(s.events.slice(1).map((e) => e.id)).toEqual([published[0], published[2]]);
    });

    it('once the history has dropped some of this process\'s events, an earlier id is an expired gap', async () => {
      const before = createHub({ heartbeat: 0 });
      const old = before.broadcast({ data: 'old' });
      await before.close();
      await sleep(5);
      await setup({ history: 2 });
      for (let i = 0; i < 3; i++) hub.broadcast({ data: `new ${i}` });
      const s = await stream('', { 'Last-Event-ID': old });
      await s.waitForEvents(1);
      expect(JSON.parse(s.events[0]!.data)).toMatchObject({ reason: 'expired' });
      await sleep(50);
      expect(s.events).toHaveLength(1);
    });
  });
});

/** One raw GET on a fresh connection; resolves with everything read once the server closes it. */
function rawGet(port: number, path: string, accept: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: ${accept}\r\n\r\n`));
    socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 3000).unref();
  });
}
