/**
 * `hub.stats()` and `hub.health()` on real servers per adapter: the counters move exactly as
 * connections, broadcasts, replays, gaps, evictions and refusals happen, and health follows the
 * hub's life.
 */
import { createHub, type Hub, type HubOptions } from '@ssehub/core';
import { ADAPTERS, LEAD, startServer, type StartOptions, type TestServer } from '../src/servers';
import { HttpStream, RawClient, failOnUnhandledRejections, sleep, waitUntil } from '../src/clients';

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
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await hub.close();
    await server.close();
  });

  it('counts connections, churn, events, deliveries, bytes and replays', async () => {
    await setup({ history: 100 });
    const a = await stream('?channel=room');
    const b = await stream();
    await waitUntil(() => hub.size === 2, 'two streams');
    expect(hub.stats()).toMatchObject({ state: 'open', connections: 2, connectionsOpened: 2, connectionsClosed: 0, eventsPublished: 0 });
    const first = hub.broadcast({ data: 'to both' });
    hub.broadcast({ data: 'room only', channel: 'room' });
    hub.broadcastTo('nobody', { data: 'to no one' });
    await a.waitForEvents(2);
    await b.waitForEvents(1);
    let s = hub.stats();
    expect(s).toMatchObject({ eventsPublished: 3, events: 3, deliveries: 3, lastEventId: hub.lastEventId });
    // Everything on the wire but each stream's lead, which the transport writes itself.
    const wire = a.raw.length + b.raw.length - 2 * LEAD[adapter].length;
    expect(s.bytesWritten).toBe(wire);

    b.close();
    await waitUntil(() => hub.size === 1, 'the second stream to go');
    // Subscribed to the room: the room event after `first` is the one replay it may see.
    const back = await stream('?channel=room', { 'Last-Event-ID': first });
    await back.waitForEvents(1);
    s = hub.stats();
    expect(s).toMatchObject({ connections: 2, connectionsOpened: 3, connectionsClosed: 1, eventsReplayed: 1 });
  });

  it('counts gaps by reason, and those initMessages filled', async () => {
    await setup({ history: 2 });
    const ids = [hub.broadcast({ data: '1' }), hub.broadcast({ data: '2' }), hub.broadcast({ data: '3' })];
    await (await stream('', { 'Last-Event-ID': ids[0]! })).waitForEvents(1);
    await (await stream('', { 'Last-Event-ID': 'never-issued' })).waitForEvents(1);
    expect(hub.stats().gaps).toMatchObject({ expired: 1, 'unknown-id': 1, filled: 0 });
  });

  it('counts a gap filled by initMessages as filled', async () => {
    await setup({ initMessages: () => [{ data: 'snapshot' }] });
    hub.broadcast({ data: 'x' });
    await (await stream('', { 'Last-Event-ID': 'gone' })).waitForEvents(1);
    expect(hub.stats().gaps).toMatchObject({ 'unknown-id': 1, filled: 1 });
  });

  it('counts refusals by reason: full, per-client limit, unauthorized and forbidden', async () => {
    await setup({ maxClients: 2 }, { sse: { maxConnectionsPerClient: 1, authorize: (req: unknown) => authorizeByQuery(req) } });
    await stream('?id=a&key=ok');
    await waitUntil(() => hub.size === 1, 'one stream');
    await (await stream('?id=a&key=ok')).waitForEnd();
    await (await stream('?id=b')).waitForEnd();
    await (await stream('?id=b&key=bad')).waitForEnd();
    await stream('?id=c&key=ok');
    await waitUntil(() => hub.size === 2, 'two streams');
    await (await stream('?id=d&key=ok')).waitForEnd();
    expect(hub.stats().refusals).toEqual({ 'client-limit': 1, unauthorized: 1, forbidden: 1, 'hub-full': 1, 'shutting-down': 0 });
  });

  it('counts evictions and congested streams, and the queued bytes behind them', async () => {
    await setup({ timeout: 100, tolerance: 2, maxBufferedBytes: 8 * 1024 * 1024 });
    const raw = await RawClient.connect(server.port, '/events');
    closers.push(() => raw.close());
    await waitUntil(() => hub.size === 1, 'the stream');
    raw.stopReading();
    const big = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 600 && hub.stats().congested === 0; i++) {
      hub.broadcast({ data: big });
      await sleep(1);
    }
    const during = hub.stats();
    expect(during.congested).toBe(1);
    expect(during.queuedBytes).toBeGreaterThan(0);
    await waitUntil(() => hub.size === 0, 'the eviction', 5000);
    expect(hub.stats()).toMatchObject({ congested: 0, queuedBytes: 0, evictions: { timeout: 1, buffer: 0 } });
  });

  it('is ready while open, not ready while draining, and not live once closed', async () => {
    await setup();
    await Promise.all([stream(), stream(), stream()]);
    await waitUntil(() => hub.size === 3, 'three streams');
    expect(hub.health()).toEqual({ ready: true, live: true, state: 'open', backplane: undefined, reasons: [] });
    const drained = hub.drain({ within: 300 });
    expect(hub.health()).toMatchObject({ ready: false, live: true, state: 'draining', reasons: ['hub draining'] });
    await drained;
    expect(hub.health()).toMatchObject({ ready: false, live: false, state: 'closed' });
  });
});

/** `?key=ok` allows, `?key=bad` is forbidden, no key is unauthorized: read off each framework's request. */
function authorizeByQuery(req: unknown): boolean | { status: 401 | 403 } {
  const r = req as { url?: string; req?: { url?: string; raw?: Request } };
  const url = r.req?.raw?.url ?? r.req?.url ?? r.url ?? '';
  const key = new URL(url, 'http://x').searchParams.get('key');
  return key === 'ok' ? true : key === 'bad' ? { status: 403 } : { status: 401 };
}
