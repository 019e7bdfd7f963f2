/**
 * `registerMetrics` on real servers: each adapter mounts `/metrics` (`await registry.metrics()`),
 * real clients open, leave, resume, fall behind and get refused, and every scrape over HTTP is
 * parsed from the exposition text: the numbers move exactly as that happens. Also: two hubs on one
 * registry told apart by a label, the errors that explain a clash, and the backplane gauges on a
 * real Redis, through an outage.
 */
import { Counter, Gauge, Registry, register as globalRegistry, type OpenMetricsContentType } from 'prom-client';
import { createHub, type Hub, type HubOptions } from '@ssehub/core';
import { redisBackplane } from '@ssehub/redis';
import { registerMetrics, DEFAULT_LATENCY_BUCKETS, type MetricsOptions } from '@ssehub/metrics';
import { ADAPTERS, startServer, type AdapterName, type Mounts, type StartOptions, type TestServer } from '../../testing/src/servers';
import { HttpStream, RawClient, failOnUnhandledRejections, sleep, waitUntil } from '../../testing/src/clients';
import { OwnRedis, REDIS_URL, dropPrefix, requireRedis, uniquePrefix } from '../../redis/test/redis-helpers';

failOnUnhandledRejections();
jest.setTimeout(30_000);

/** `/metrics` on each framework, as the README shows it. */
function metricsRoute(registry: Registry<any>): Mounts {
  return {
    express: (app) =>
      app.get('/metrics', async (_req, res) => {
        res.set('Content-Type', registry.contentType).send(await registry.metrics());
      }),
    koa: (_app, router) =>
      router.get('/metrics', async (ctx) => {
        ctx.set('Content-Type', registry.contentType);
        ctx.body = await registry.metrics();
      }),
    hono: (app) => app.get('/metrics', async (c) => c.body(await registry.metrics(), 200, { 'Content-Type': registry.contentType })),
    fastify: (app) => app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics())),
    fetch: (app) => app.route('/metrics', async () => new Response(await registry.metrics(), { headers: { 'Content-Type': registry.contentType } })),
  };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One scrape, parsed from the Prometheus text format. */
class Scrape {
  readonly samples: Sample[] = [];
  readonly types = new Map<string, string>();

  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) this.types.set(type[1]!, type[2]!);
      if (line === '' || line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
      const v = m[3]!;
      this.samples.push({ name: m[1]!, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
    }
  }

  /** The samples of one name whose labels include `labels`. */
  all(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }

  /** The value of the one series of `name` with exactly these labels. */
  get(name: string, labels: Record<string, string> = {}): number {
    const hits = this.samples.filter((s) => s.name === name && sameLabels(s.labels, labels));
    if (hits.length !== 1) throw new Error(`${hits.length} series ${name}${JSON.stringify(labels)} in\n${this.text}`);
    return hits[0]!.value;
  }
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

async function scrape(server: TestServer, registry: Registry<any>): Promise<Scrape> {
  const res = await fetch(`${server.origin}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(registry.contentType);
  return new Scrape(await res.text());
}

const COUNTERS = [
  'connections_opened_total',
  'connections_closed_total',
  'events_published_total',
  'events_total',
  'deliveries_total',
  'written_bytes_total',
  'events_replayed_total',
  'gaps_total',
  'evictions_total',
  'refusals_total',
];
const GAUGES = ['connections', 'queued_bytes', 'congested_connections', 'ready'];
const GAP_REASONS = ['expired', 'unknown-id', 'restart', 'unavailable', 'backplane-epoch', 'backplane-behind', 'filled'];

/** Every counter series of the earlier scrape is there in the later one, and not lower. */
function expectMonotonic(scrapes: Scrape[]): void {
  for (let i = 1; i < scrapes.length; i++) {
    for (const s of scrapes[i - 1]!.samples) {
      if (!s.name.endsWith('_total') && !/_(count|sum|bucket)$/.test(s.name)) continue;
      expect(scrapes[i]!.get(s.name, s.labels)).toBeGreaterThanOrEqual(s.value);
    }
  }
}

describe.each(ADAPTERS)('/metrics on %s', (adapter) => {
  let hub: Hub;
  let server: TestServer;
  let registry: Registry;
  let unregister: () => void;
  const closers: (() => void)[] = [];
  const hubLabel = { hub: adapter };
  const m = (s: Scrape, name: string, labels: Record<string, string> = {}) => s.get(`ssehub_${name}`, { ...hubLabel, ...labels });

  async function setup(options: HubOptions = {}, sse: StartOptions['sse'] = {}): Promise<void> {
    hub = createHub({ heartbeat: 0, ...options });
    registry = new Registry();
    unregister = registerMetrics(hub, { registry, labels: hubLabel });
    server = await startServer(adapter, hub, { sse, mount: metricsRoute(registry) });
  }
  async function stream(query = '', headers: Record<string, string> = {}): Promise<HttpStream> {
    const s = await HttpStream.open(`${server.origin}/events${query}`, headers);
    closers.push(() => s.close());
    return s;
  }
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    unregister?.();
    await hub?.close();
    await server?.close();
  });

  it('moves as streams open and close, broadcasts go out, a client resumes, an id is unknown and a client is refused', async () => {
    await setup({ history: 100 }, { maxConnectionsPerClient: 1 });
    const scrapes: Scrape[] = [];
    const take = async () => {
      const s = await scrape(server, registry);
      scrapes.push(s);
      return s;
    };

    let s = await take();
    for (const name of COUNTERS) expect(s.types.get(`ssehub_${name}`)).toBe('counter');
    for (const name of GAUGES) expect(s.types.get(`ssehub_${name}`)).toBe('gauge');
    expect(s.types.get('ssehub_delivery_latency_seconds')).toBe('histogram');
    for (const name of COUNTERS.filter((n) => !['gaps_total', 'evictions_total', 'refusals_total'].includes(n))) expect(m(s, name)).toBe(0);
    for (const reason of GAP_REASONS) expect(m(s, 'gaps_total', { reason })).toBe(0);
    expect(m(s, 'connections')).toBe(0);
    expect(m(s, 'ready')).toBe(1);
    expect(m(s, 'delivery_latency_seconds_count')).toBe(0);
    // No backplane, no backplane series.
    expect(s.samples.filter((x) => x.name.startsWith('ssehub_backplane'))).toEqual([]);

    const a = await stream('?id=a');
    const b = await stream('?id=b&channel=room');
    await waitUntil(() => hub.size === 2, 'two streams');
    s = await take();
    expect([m(s, 'connections'), m(s, 'connections_opened_total'), m(s, 'connections_closed_total')]).toEqual([2, 2, 0]);

    const first = hub.broadcast({ data: 'to both' });
    hub.broadcast({ data: 'room only', channel: 'room' });
    hub.broadcastTo('nobody', { data: 'to no one' });
    await a.waitForEvents(1);
    await b.waitForEvents(2);
    s = await take();
    expect(m(s, 'events_published_total')).toBe(3);
    expect(m(s, 'events_total')).toBe(3);
    expect(m(s, 'deliveries_total')).toBe(3);
    // Everything on the wire but each stream's 2-byte lead, which the transport writes itself.
    expect(m(s, 'written_bytes_total')).toBe(a.raw.length + b.raw.length - 4);
    // One latency observation per event this hub delivered, each well under a second here.
    expect(m(s, 'delivery_latency_seconds_count')).toBe(3);
    expect(m(s, 'delivery_latency_seconds_sum')).toBeGreaterThan(0);
    expect(m(s, 'delivery_latency_seconds_bucket', { le: '1' })).toBe(3);

    b.close();
    await waitUntil(() => hub.size === 1, 'the second stream to go');
    s = await take();
    expect([m(s, 'connections'), m(s, 'connections_closed_total')]).toEqual([1, 1]);

    // b comes back with the id of the first event: the room event after it is replayed.
    const back = await stream('?id=b&channel=room', { 'Last-Event-ID': first });
    await back.waitForEvents(1);
    expect(back.events[0]!.data).toBe('room only');
    s = await take();
    expect(m(s, 'events_replayed_total')).toBe(1);
    expect(m(s, 'connections_opened_total')).toBe(3);

    // An id this hub never issued: a gap, announced.
    await (await stream('?id=c', { 'Last-Event-ID': 'never-issued' })).waitForEvents(1);
    s = await take();
    expect(m(s, 'gaps_total', { reason: 'unknown-id' })).toBe(1);
    expect(m(s, 'gaps_total', { reason: 'expired' })).toBe(0);

    // A second stream for client a is over its limit.
    await (await stream('?id=a')).waitForEnd();
    s = await take();
    expect(m(s, 'refusals_total', { reason: 'client-limit' })).toBe(1);
    expect(m(s, 'refusals_total', { reason: 'hub-full' })).toBe(0);

    // Every figure is the hub's own, and no total ever went down.
    const stats = hub.stats();
    expect([m(s, 'connections'), m(s, 'connections_opened_total'), m(s, 'connections_closed_total')]).toEqual([
      stats.connections,
      stats.connectionsOpened,
      stats.connectionsClosed,
    ]);
    expect(m(s, 'events_total')).toBe(stats.events);
    expect(m(s, 'deliveries_total')).toBe(stats.deliveries);
    expect(m(s, 'written_bytes_total')).toBe(stats.bytesWritten);
    for (const [reason, n] of Object.entries(stats.gaps)) expect(m(s, 'gaps_total', { reason })).toBe(n);
    for (const [reason, n] of Object.entries(stats.refusals)) expect(m(s, 'refusals_total', { reason })).toBe(n);
    expectMonotonic(scrapes);
  });

  it('shows a client falling behind (congested, queued bytes) and then its eviction', async () => {
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
    const during = await scrape(server, registry);
    expect(m(during, 'congested_connections')).toBe(1);
    expect(m(during, 'queued_bytes')).toBeGreaterThan(0);
    expect(m(during, 'evictions_total', { reason: 'timeout' })).toBe(0);

    await waitUntil(() => hub.size === 0, 'the eviction', 5000);
    const after = await scrape(server, registry);
    expect(m(after, 'evictions_total', { reason: 'timeout' })).toBe(1);
    expect(m(after, 'evictions_total', { reason: 'buffer' })).toBe(0);
    expect([m(after, 'congested_connections'), m(after, 'queued_bytes'), m(after, 'connections')]).toEqual([0, 0, 0]);
    expect(m(after, 'connections_closed_total')).toBe(1);
    expectMonotonic([during, after]);
  });

  it('says not ready while the hub drains', async () => {
    await setup();
    await stream();
    await stream();
    await waitUntil(() => hub.size === 2, 'two streams');
    expect(m(await scrape(server, registry), 'ready')).toBe(1);
    const drained = hub.drain({ within: 1000 });
    expect(m(await scrape(server, registry), 'ready')).toBe(0);
    await drained;
  });
});

describe('several hubs on one registry', () => {
  const hubs: Hub[] = [];
  const servers: TestServer[] = [];
  const streams: HttpStream[] = [];
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    for (const h of hubs.splice(0)) await h.close();
    for (const s of servers.splice(0)) await s.close();
  });

  async function start(adapter: AdapterName, registry?: Registry<any>): Promise<{ hub: Hub; server: TestServer }> {
    const hub = createHub({ heartbeat: 0 });
    const server = await startServer(adapter, hub, registry ? { mount: metricsRoute(registry) } : {});
    hubs.push(hub);
    servers.push(server);
    return { hub, server };
  }
  async function open(server: TestServer, n: number): Promise<HttpStream[]> {
    const out = await Promise.all(Array.from({ length: n }, () => HttpStream.open(`${server.origin}/events`)));
    streams.push(...out);
    return out;
  }

  it('tells them apart by their label, and one leaving takes only its own series', async () => {
    const registry = new Registry();
    const chat = await start('express', registry);
    const prices = await start('hono');
    const offChat = registerMetrics(chat.hub, { registry, labels: { hub: 'chat' } });
    let offPrices = registerMetrics(prices.hub, { registry, labels: { hub: 'prices' } });

    const chatStreams = await open(chat.server, 2);
    const priceStreams = await open(prices.server, 1);
    await waitUntil(() => chat.hub.size === 2 && prices.hub.size === 1, 'the streams');
    chat.hub.broadcast({ data: 'hi' });
    prices.hub.broadcast({ data: '1.0' });
    prices.hub.broadcast({ data: '1.1' });
    for (const s of chatStreams) await s.waitForEvents(1);
    await priceStreams[0]!.waitForEvents(2);

    let s = await scrape(chat.server, registry);
    expect(s.get('ssehub_connections', { hub: 'chat' })).toBe(2);
    expect(s.get('ssehub_connections', { hub: 'prices' })).toBe(1);
    expect(s.get('ssehub_events_published_total', { hub: 'chat' })).toBe(1);
    expect(s.get('ssehub_events_published_total', { hub: 'prices' })).toBe(2);
    expect(s.get('ssehub_deliveries_total', { hub: 'chat' })).toBe(2);
    expect(s.get('ssehub_delivery_latency_seconds_count', { hub: 'chat' })).toBe(1);
    expect(s.get('ssehub_delivery_latency_seconds_count', { hub: 'prices' })).toBe(2);
    // One HELP and TYPE per metric, whatever the number of hubs.
    expect(s.text.match(/^# TYPE ssehub_connections /gm)).toHaveLength(1);

    offPrices();
    offPrices(); // idempotent
    prices.hub.broadcast({ data: '1.2' });
    chat.hub.broadcast({ data: 'still here' });
    for (const x of chatStreams) await x.waitForEvents(2);
    s = await scrape(chat.server, registry);
    expect(s.samples.filter((x) => x.labels.hub === 'prices')).toEqual([]);
    expect(s.get('ssehub_events_published_total', { hub: 'chat' })).toBe(2);
    expect(s.get('ssehub_delivery_latency_seconds_count', { hub: 'chat' })).toBe(2);

    // Registered again, its totals are the hub's own from the start.
    offPrices = registerMetrics(prices.hub, { registry, labels: { hub: 'prices' } });
    s = await scrape(chat.server, registry);
    expect(s.get('ssehub_events_published_total', { hub: 'prices' })).toBe(3);

    // The last hub leaving takes the metrics off the registry.
    offChat();
    offPrices();
    expect(registry.getMetricsAsArray()).toEqual([]);
    expect((await scrape(chat.server, registry)).samples).toEqual([]);
  });

  it('explains a clash instead of failing half-way', async () => {
    const registry = new Registry();
    const { hub } = await start('express');
    const { hub: other } = await start('koa');
    const off = registerMetrics(hub, { registry });
    expect(() => registerMetrics(hub, { registry })).toThrow(/this hub is already registered on this registry/);
    expect(() => registerMetrics(other, { registry })).toThrow(/a hub without labels is already registered.*labels: \{ hub: 'chat' \}/);
    expect(() => registerMetrics(other, { registry, labels: { hub: 'b' } })).toThrow(/labelled by no label, this one by \[hub\]/);
    // Another prefix is another set of metrics: no clash.
    registerMetrics(other, { registry, prefix: 'other_' })();
    off();

    const a = registerMetrics(hub, { registry, labels: { hub: 'a' } });
    expect(() => registerMetrics(other, { registry, labels: { hub: 'a' } })).toThrow(/a hub labelled \{hub="a"\} is already registered/);
    expect(() => registerMetrics(other, { registry, labels: { hub: 'b' }, buckets: [1, 2] })).toThrow(/latency buckets/);
    expect(() => registerMetrics(other, { registry, labels: { reason: 'x' } } as MetricsOptions)).toThrow(/"reason" is the metrics' own/);
    a();

    // A metric of the same name made by someone else: a clear error, and nothing of ours left behind.
    const theirs = new Gauge({ name: 'ssehub_ready', help: 'theirs', registers: [registry] });
    expect(() => registerMetrics(hub, { registry })).toThrow(/ssehub_ready has already been registered.*not by registerMetrics.*prefix/);
    expect(registry.getMetricsAsArray()).toEqual([theirs]);
    registry.clear();

    // After registry.clear(), registering starts afresh.
    registerMetrics(hub, { registry, labels: { hub: 'a' } });
    registry.clear();
    const again = registerMetrics(hub, { registry, labels: { hub: 'a' } });
    expect(registry.getSingleMetric('ssehub_connections')).toBeInstanceOf(Gauge);
    expect(registry.getSingleMetric('ssehub_events_total')).toBeInstanceOf(Counter);
    again();
  });

  it('works on an OpenMetrics registry, whose counters are named without _total and sampled with it', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const { hub, server } = await start('hono', registry);
    const off = registerMetrics(hub, { registry, labels: { hub: 'om' } });
    await open(server, 2);
    await waitUntil(() => hub.size === 2, 'the streams');
    for (let i = 0; i < 2; i++) {
      const s = await scrape(server, registry);
      expect(s.text.endsWith('# EOF\n')).toBe(true);
      expect(s.types.get('ssehub_connections_opened')).toBe('counter');
      expect(s.get('ssehub_connections_opened_total', { hub: 'om' })).toBe(2);
      expect(s.get('ssehub_connections', { hub: 'om' })).toBe(2);
    }
    off();
    expect(registry.getMetricsAsArray()).toEqual([]);
  });

  it("uses prom-client's global registry by default, with the default buckets", async () => {
    const { hub, server } = await start('koa', globalRegistry);
    const off = registerMetrics(hub);
    try {
      const [s] = await open(server, 1);
      await waitUntil(() => hub.size === 1, 'the stream');
      hub.broadcast({ data: 'x' });
      await s!.waitForEvents(1);
      const scraped = await scrape(server, globalRegistry);
      expect(scraped.get('ssehub_connections')).toBe(1);
      expect(scraped.get('ssehub_delivery_latency_seconds_count')).toBe(1);
      const les = scraped.all('ssehub_delivery_latency_seconds_bucket').map((x) => x.labels.le);
      expect(les).toEqual([...DEFAULT_LATENCY_BUCKETS.map(String), '+Inf']);
    } finally {
      off();
    }
    expect(globalRegistry.getSingleMetric('ssehub_connections')).toBeUndefined();
  });
});

describe('with a Redis backplane', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  beforeAll(() => requireRedis());
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function start(url: string, prefix: string) {
    const backplane = redisBackplane({ url, prefix, timeout: 500 });
    const hub = createHub({ heartbeat: 0, backplane, onError: () => undefined });
    const registry = new Registry();
    const off = registerMetrics(hub, { registry, labels: { hub: 'redis' } });
    const server = await startServer('express', hub, { mount: metricsRoute(registry) });
    cleanup.push(async () => {
      off();
      await hub.close();
      await server.close();
    });
    await backplane.ready();
    return { hub, backplane, registry, server };
  }
  const m = (s: Scrape, name: string, labels: Record<string, string> = {}) => s.get(`ssehub_${name}`, { hub: 'redis', ...labels });

  it('shows the backplane connected and in step, and counts events through it', async () => {
    const prefix = uniquePrefix('metrics');
    cleanup.push(() => dropPrefix(prefix));
    const { hub, registry, server } = await start(REDIS_URL, prefix);

    const stream = await HttpStream.open(`${server.origin}/events`);
    cleanup.push(() => stream.close());
    await waitUntil(() => hub.size === 1, 'the stream');
    hub.broadcast({ data: 'one' });
    hub.broadcast({ data: 'two' });
    await stream.waitForEvents(2);

    const s = await scrape(server, registry);
    expect(m(s, 'backplane_up')).toBe(1);
    expect(m(s, 'backplane_state', { state: 'connected' })).toBe(1);
    for (const state of ['connecting', 'outage', 'catching-up']) expect(m(s, 'backplane_state', { state })).toBe(0);
    expect(m(s, 'backplane_outbox')).toBe(0);
    expect(m(s, 'backplane_behind')).toBe(0);
    expect(m(s, 'ready')).toBe(1);
    expect(m(s, 'events_published_total')).toBe(2);
    expect(m(s, 'events_total')).toBe(2);
    expect(m(s, 'delivery_latency_seconds_count')).toBe(2);
  });

  it('shows an outage: the backplane down, broadcasts waiting in the outbox, and the recovery', async () => {
    const redis = await OwnRedis.start();
    cleanup.push(() => redis.destroy());
    const { hub, backplane, registry, server } = await start(redis.url, uniquePrefix('metrics-outage'));
    const stream = await HttpStream.open(`${server.origin}/events`);
    cleanup.push(() => stream.close());
    await waitUntil(() => hub.size === 1, 'the stream');

    await redis.stop();
    await waitUntil(() => !backplane.connected, 'the backplane to notice');
    hub.broadcast({ data: 'waits' });
    hub.broadcast({ data: 'waits too' });
    let s = await scrape(server, registry);
    expect(m(s, 'backplane_up')).toBe(0);
    expect(m(s, 'backplane_state', { state: 'outage' })).toBe(1);
    expect(m(s, 'backplane_state', { state: 'connected' })).toBe(0);
    expect(m(s, 'backplane_outbox')).toBe(2);
    expect(m(s, 'events_published_total')).toBe(2);
    expect(m(s, 'events_total')).toBe(0);
    // A short outage keeps the instance ready (every instance shares the backplane).
    expect(m(s, 'ready')).toBe(1);

    await redis.start();
    await stream.waitForEvents(2, 15_000);
    await waitUntil(() => backplane.state === 'connected', 'the recovery', 15_000);
    s = await scrape(server, registry);
    expect(m(s, 'backplane_up')).toBe(1);
    expect(m(s, 'backplane_outbox')).toBe(0);
    expect(m(s, 'events_total')).toBe(2);
    expect(m(s, 'delivery_latency_seconds_count')).toBe(2);
  });
});
