/**
 * Faults, against a redis-server of the test's own that is frozen, stopped and restarted mid-stream.
 * The guarantee under test: one order everywhere. A hub delivers its own broadcasts only once Redis
 * has ordered them, like every other hub's, so during an outage nothing is delivered anywhere (the
 * broadcasts wait in a bounded outbox), and when Redis is back they are published in publish order,
 * once each, and every client of every hub gets them in the same order. Outages and recoveries are
 * reported (the hub's logger sees the state changes, `onError` the outage once). The freeze test
 * prints what the outage cost: the longest delivery delay, the outbox peak, the time to recover.
 */
import { Redis } from 'ioredis';
import { SseHubError, type SseHubErrorCode } from '@ssehub/core';
import type { RedisBackplaneOptions } from '@ssehub/redis';
import { HttpStream, failOnUnhandledRejections, sleep, waitUntil } from '../../testing/src/clients';
import type { AdapterName } from '../../testing/src/servers';
import { LossyProxy, OwnRedis, requireRedis, uniquePrefix } from './redis-helpers';
import { startCluster, stopCluster, waitHeard, type ClusterOptions, type Instance, openStream } from './cluster-helpers';

jest.setTimeout(90_000);

failOnUnhandledRejections();
beforeAll(async () => {
  // The fault tests run their own server, but fail like the rest of the suite when Redis is missing.
  await requireRedis();
});

let redis: OwnRedis | undefined;
let prefix = '';
let cluster: Instance[] = [];
const streams: HttpStream[] = [];
/** Run first after each test, pass or fail: stops what a test left running (a publishing loop, a timer). */
const stoppers: (() => void)[] = [];

async function start(persist: boolean, options: ClusterOptions = {}, adapters: AdapterName[] = ['express', 'hono']) {
  redis = await OwnRedis.start({ persist });
  prefix = uniquePrefix('f');
  cluster = await startCluster(adapters, { ...options, backplane: { url: redis.url, prefix, ...options.backplane } });
  return cluster;
}

const open = (i: Instance, query = '', headers: Record<string, string> = {}) => openStream(streams, i, query, headers);

async function down(): Promise<void> {
  await redis!.stop();
  await waitUntil(() => cluster.every((i) => !i.backplane.connected), 'every backplane to notice Redis is gone');
}

async function up(): Promise<void> {
  await redis!.start();
  await waitUntil(() => cluster.every((i) => i.backplane.connected), 'every backplane to reconnect by itself', 15_000);
}

const ids = (s: HttpStream, type = 'message') => s.events.filter((e) => e.event === type).map((e) => e.id!);
const types = (s: HttpStream) => s.events.map((e) => e.event);
const messages = (i: Instance) => i.errors.map((e) => (e instanceof Error ? e.message : String(e)));
/** The `code` of each error `onError` received (undefined for one that is not an SseHubError). */
const codes = (i: Instance): (SseHubErrorCode | undefined)[] => i.errors.map((e) => (e instanceof SseHubError ? e.code : undefined));
const heardIds = (i: Instance) => i.heard.map((m) => m.id);

/** When each event a stream reads arrived (ms since the epoch), by its index in `s.events`. */
function arrivals(s: HttpStream): number[] {
  const at: number[] = [];
  // HttpStream's own listener runs first, so the events of this chunk are parsed already.
  s.res.on('data', () => {
    const now = Date.now();
    while (at.length < s.events.length) at.push(now);
  });
  return at;
}

/** What the data set holds: every entry's uid, in stream order. */
async function loggedUids(): Promise<string[]> {
  const admin = new Redis(redis!.url);
  try {
    const entries = await admin.xrange(`{${prefix}}:log`, '-', '+');
    return entries.map(([, f]) => f[f.indexOf('u') + 1]!);
  } finally {
    admin.disconnect();
  }
}

/**
 * How many times Redis ran each command, from INFO commandstats (commands a script runs count too):
 * every run of the publish script makes one HGET (the idempotency check), every append one XADD.
 */
async function commandCalls(): Promise<{ hget: number; xadd: number }> {
  const admin = new Redis(redis!.url);
  try {
    const info = await admin.info('commandstats');
    const calls = (name: string) => Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    return { hget: calls('hget'), xadd: calls('xadd') };
  } finally {
    admin.disconnect();
  }
}

afterEach(async () => {
  for (const stop of stoppers.splice(0)) stop();
  for (const s of streams.splice(0)) s.close();
  await stopCluster(cluster.splice(0));
  await redis?.destroy();
  redis = undefined;
});

describe.each<[string, RedisBackplaneOptions]>([
  ['default timeouts (the publish gives up after 2 s, the blocked reader sees nothing)', {}],
  ['short timeouts (both connections are reset during the freeze)', { timeout: 300, block: 500 }],
])('Redis frozen (SIGSTOP) for 3 s while hub A publishes 200 broadcasts/s, %s', (_, backplane) => {
  test('every client of A and of B gets one order, clients that move to B lose nothing, the outage is reported and measured', async () => {
    const RATE = 200;
    const RUN_MS = 6000;
    const FREEZE_AT = 1500;
    const FREEZE_MS = 3000;
    // A small local cache, so that a client resuming late on B is replayed from Redis.
    const [a, b] = await start(false, { hub: { history: 100 }, backplane });
    const a1 = await open(a);
    const a2 = await open(a);
    const b1 = await open(b);
    const b2 = await open(b);
    const x = await open(a); // drops mid-outage and resumes on B at once (served from B's cache)
    const y = await open(a); // drops mid-outage and resumes on B at the end (served from Redis)
    const a1At = arrivals(a1);
    const b1At = arrivals(b1);

    const published: string[] = [];
    const publishedAt: number[] = [];
    let outboxPeak = 0;
    const watch = setInterval(() => (outboxPeak = Math.max(outboxPeak, a.backplane.outboxSize)), 5);
    let stopped = false;
    stoppers.push(() => ((stopped = true), clearInterval(watch)));
    const t0 = Date.now();
    const until = (ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));
    const publishing = (async () => {
      while (Date.now() - t0 < RUN_MS && !stopped) {
        const due = Math.floor(((Date.now() - t0) * RATE) / 1000);
        while (published.length < due) {
          publishedAt.push(Date.now());
          published.push(a.hub.broadcast({ data: { n: published.length } }));
        }
        await sleep(5);
      }
    })();

    await until(FREEZE_AT);
    // B in step first: on a loaded machine it can trail A, and nothing reaches it while Redis is frozen.
    const beforeFreeze = published.at(-1)!;
    await waitUntil(() => heardIds(b).includes(beforeFreeze), 'B to have delivered what A published before the freeze', 5000);
    redis!.pause();
    const frozenAt = Date.now();
    await until(FREEZE_AT + 1000);
    // Mid-outage: x and y drop. x resumes on B right away with its Last-Event-ID.
    x.close();
    y.close();
    const xLast = ids(x).at(-1)!;
    const yLast = ids(y).at(-1)!;
    await waitUntil(() => heardIds(b).includes(xLast), 'B to have delivered what x saw on A', 2000);
    const xb = await open(b, '', { 'Last-Event-ID': xLast });
    await until(FREEZE_AT + FREEZE_MS);
    redis!.resume();
    const thawedAt = Date.now();
    await publishing;
    const n = published.length;
    for (const s of [a1, a2, b1, b2]) await s.waitForEvents(n, 30_000);
    await sleep(100);
    // One order: every client of either hub got every broadcast once, in publish order (one publisher).
    for (const s of [a1, a2, b1, b2]) expect(ids(s)).toEqual(published);
    expect(heardIds(a)).toEqual(published);
    expect(heardIds(b)).toEqual(published);

    await waitUntil(() => a.backplane.state === 'connected' && b.backplane.state === 'connected', 'both backplanes to be in step', 10_000);
    clearInterval(watch);
    const yb = await open(b, '', { 'Last-Event-ID': yLast });
    await yb.waitForEvents(n - published.indexOf(yLast) - 1, 10_000);
    await sleep(200);
    // The clients that moved got exactly what followed their Last-Event-ID: no gap, no duplicate, no resync.
    expect(ids(x)).toEqual(published.slice(0, published.indexOf(xLast) + 1));
    expect(types(xb).every((t) => t === 'message')).toBe(true);
    expect(ids(xb)).toEqual(published.slice(published.indexOf(xLast) + 1));
    expect(types(yb).every((t) => t === 'message')).toBe(true);
    expect(ids(yb)).toEqual(published.slice(published.indexOf(yLast) + 1));
    // Redis holds each broadcast once.
    expect(await loggedUids()).toEqual(published);

    // Nothing was delivered while Redis was frozen: not on B, and not on A either (no local shortcut).
    // (What Redis answered just before the freeze may be read a little later on a busy machine.)
    const during = (at: number[]) => at.filter((t) => t > frozenAt + 250 && t < thawedAt).length;
    expect(during(a1At)).toBe(0);
    expect(during(b1At)).toBe(0);
    // The price: latency grows by the outage. The first broadcast after the freeze waited for all of it
    // (it was made within a tick or two of SIGSTOP).
    const delays = a1At.map((t, i) => t - publishedAt[i]!);
    const maxDelay = Math.max(...delays);
    const frozenFor = thawedAt - frozenAt;
    expect(maxDelay).toBeGreaterThanOrEqual(frozenFor - 250);
    // Recovery: what waited is delivered soon after Redis answers again.
    const lastBeforeThaw = publishedAt.filter((t) => t < thawedAt).length - 1;
    const recoveredIn = a1At[lastBeforeThaw]! - thawedAt;
    expect(recoveredIn).toBeLessThan(5000);
    const duringFreeze = publishedAt.filter((t) => t >= frozenAt && t < thawedAt).length;
    expect(outboxPeak).toBeGreaterThanOrEqual(Math.floor(duringFreeze * 0.8));
    expect(a.backplane.outboxSize).toBe(0);
    const after = delays.slice(-50).sort((p, q) => p - q);

    // Reported: one outage on A (onError once, the logger saw the states), and the recovery.
    expect(messages(a)).toHaveLength(1);
    expect(messages(a)[0]).toMatch(/Redis at 127\.0\.0\.1:\d+ unreachable/);
    expect(codes(a)).toEqual(['BACKPLANE_UNAVAILABLE']);
    expect(a.states).toEqual(['connected', 'outage', 'catching-up', 'connected']);
    expect(a.hub.backplaneState).toBe('connected');
    // B noticed the freeze only if its reader timed out; either way it ends in step, and says so once at most.
    expect(messages(b).length).toBeLessThanOrEqual(1);
    for (const m of messages(b)) expect(m).toMatch(/unreachable/);
    for (const c of codes(b)) expect(c).toBe('BACKPLANE_UNAVAILABLE');
    expect(b.states[0]).toBe('connected');
    expect(b.states.at(-1)).toBe('connected');

    console.log(
      `freeze ${JSON.stringify(backplane)}: ${n} broadcasts at ${RATE}/s, Redis frozen ${frozenFor} ms; ` +
        `longest delivery delay ${maxDelay} ms (p50 ${[...delays].sort((p, q) => p - q)[delays.length >> 1]} ms), ` +
        `outbox peak ${outboxPeak} (${duringFreeze} published while frozen), all waiting delivered ${recoveredIn} ms after SIGCONT, ` +
        `p50 delay of the last 50 ${after[after.length >> 1]} ms; A states ${a.states.join(' > ')}; B states ${b.states.join(' > ')}`,
    );
  });
});

test('Redis restarts with its data: nothing is delivered meanwhile, then every client of every hub gets one order, with no resync', async () => {
  const [a, b] = await start(true, {}, ['express', 'koa']);
  const ca = await open(a);
  const cb = await open(b);
  for (let n = 0; n < 10; n++) (n % 2 ? a : b).hub.broadcast({ data: `before ${n}` });
  await waitHeard(cluster, 10);
  // Concurrent publishers: Redis decides the one order.
  const before = heardIds(a);
  await ca.waitForEvents(10);

  await down();
  const fromA = Array.from({ length: 15 }, (_, n) => a.hub.broadcast({ data: `a down ${n}` }));
  const fromB = Array.from({ length: 15 }, (_, n) => b.hub.broadcast({ data: `b down ${n}` }));
  await sleep(300);
  // No hub delivers what Redis has not ordered, its own broadcasts included: they wait in the outbox.
  expect(ids(ca)).toEqual(before);
  expect(ids(cb)).toEqual(before);
  expect(a.backplane.outboxSize).toBe(15);
  expect(a.backplane.state).toBe('outage');
  expect(a.hub.backplaneState).toBe('outage');
  expect(messages(a)).toHaveLength(1);
  expect(messages(a)[0]).toMatch(/unreachable/);
  // The stats say it, and health stays ready through a short outage but not past maxOutage.
  expect(a.hub.stats().backplane).toMatchObject({ state: 'outage', outbox: 15 });
  expect(a.hub.stats().eventsPublished).toBe(5 + 15);
  expect(a.hub.health().ready).toBe(true);
  expect(a.hub.health({ maxOutage: 100 })).toMatchObject({ ready: false, live: true, backplane: 'outage' });

  await up();
  await waitUntil(() => a.backplane.outboxSize + b.backplane.outboxSize === 0, 'both outboxes to be published');
  const after = [a.hub.broadcast({ data: 'after 1' }), b.hub.broadcast({ data: 'after 2' })];
  await ca.waitForEvents(42, 10_000);
  await cb.waitForEvents(42, 10_000);
  await sleep(100);
  const order = heardIds(a);
  expect(heardIds(b)).toEqual(order);
  expect(ids(ca)).toEqual(order);
  expect(ids(cb)).toEqual(order);
  expect(new Set(order)).toEqual(new Set([...before, ...fromA, ...fromB, ...after]));
  expect(order).toHaveLength(42);
  // Each hub's outage broadcasts went out in its publish order.
  expect(order.filter((id) => fromA.includes(id))).toEqual(fromA);
  expect(order.filter((id) => fromB.includes(id))).toEqual(fromB);
  expect(ids(ca, 'ssehub-resync')).toEqual([]);
  expect(await loggedUids()).toEqual(order);
  for (const i of [a, b]) expect(i.states).toEqual(['connected', 'outage', 'catching-up', 'connected']);
  expect(a.hub.stats().backplane).toEqual({ state: 'connected', outbox: 0, behind: 0 });
  expect(a.hub.health({ maxOutage: 100 }).ready).toBe(true);
  expect(messages(b)).toHaveLength(1);

  // A client that left before the outage resumes on either instance with what it missed, in the one order.
  const back = await open(b, '', { 'Last-Event-ID': before[9]! });
  await back.waitForEvents(32);
  await sleep(50);
  expect(ids(back)).toEqual(order.slice(10));
});

test('Redis restarts empty: the new epoch is detected, clients are told to resync, the outbox is published into the new data set in order', async () => {
  const [a, b] = await start(false);
  const ca = await open(a, '?channel=news');
  const cb = await open(b, '?channel=news');
  const before: string[] = [];
  for (let n = 0; n < 6; n++) before.push(a.hub.broadcast({ data: `before ${n}`, channel: n % 2 ? 'news' : undefined }));
  await waitHeard(cluster, 6);
  await ca.waitForEvents(6);

  await down();
  const meanwhile = Array.from({ length: 4 }, (_, n) => a.hub.broadcast({ data: `down ${n}`, channel: 'news' }));
  await sleep(200);
  expect(ca.events).toHaveLength(6);
  await up();
  // Both hubs: the reset notice, then what a published while Redis was down (its outbox, in the new epoch).
  for (const c of [ca, cb]) {
    await c.waitForEvents(6 + 1 + 4, 10_000);
    expect(types(c)).toEqual([...Array(6).fill('message'), 'ssehub-resync', ...Array(4).fill('message')]);
    expect(ids(c)).toEqual([...before, ...meanwhile]);
    expect(JSON.parse(c.events[6]!.data)).toMatchObject({ reason: 'backplane-epoch' });
  }
  expect(await loggedUids()).toEqual(meanwhile);
  await waitUntil(() => a.backplane.state === 'connected', 'a to be in step');
  expect(a.states).toEqual(['connected', 'outage', 'catching-up', 'connected']);

  // An id from the old epoch is unknown everywhere now: the gap path, never a partial replay.
  for (const i of [a, b]) {
    const old = await open(i, '', { 'Last-Event-ID': before[2]! });
    await old.waitForEvents(1);
    await sleep(50);
    expect(types(old)).toEqual(['ssehub-resync']);
    expect(JSON.parse(old.events[0]!.data)).toMatchObject({ reason: 'unknown-id', lastEventId: before[2] });
  }
  // And the new epoch works across instances.
  const next = b.hub.broadcast({ data: 'new epoch' });
  await waitUntil(() => ids(ca).includes(next), 'a broadcast of b to reach a client of a');
});

test('while Redis is down nothing grows without bound: the outbox keeps the newest maxOutbox broadcasts, drops are reported, replays take the gap path', async () => {
  const [a, b] = await start(false, { backplane: { maxOutbox: 20 } });
  const ca = await open(a);
  const cb = await open(b);
  const first = a.hub.broadcast({ data: 'first' });
  await waitHeard(cluster, 1);

  await down();
  const sent = Array.from({ length: 500 }, (_, n) => a.hub.broadcast({ data: `down ${n}` }));
  await sleep(200);
  expect(a.heard).toHaveLength(1);
  expect(a.backplane.outboxSize).toBe(20);
  const full = messages(a).filter((m) => /outbox full/.test(m));
  expect(full).toHaveLength(480);
  expect(codes(a).filter((c) => c === 'BACKPLANE_OUTBOX_FULL')).toHaveLength(480);
  expect(full[0]).toContain(sent[0]);
  // A client the local cache cannot serve gets the gap path at once, not a wait on Redis.
  const lost = await open(b, '', { 'Last-Event-ID': 'from-elsewhere' });
  await lost.waitForEvents(1);
  expect(JSON.parse(lost.events[0]!.data)).toMatchObject({ reason: 'unavailable' });
  expect(b.hub.size).toBe(2);

  await up();
  // Only the newest maxOutbox broadcasts survive, in order, on both hubs, after the reset notice.
  for (const c of [ca, cb]) {
    await waitUntil(() => ids(c).length >= 21, 'the kept outbox to be delivered', 10_000);
    await sleep(100);
    expect(ids(c)).toEqual([first, ...sent.slice(480)]);
  }
  expect(a.backplane.outboxSize).toBe(0);
});

test('publishes that time out on a frozen Redis, which runs them when it wakes, are not published twice', async () => {
  const [a, b] = await start(false, { backplane: { timeout: 300, block: 1000 } });
  const ca = await open(a);
  const cb = await open(b);
  const first = a.hub.broadcast({ data: 'first' });
  await waitHeard(cluster, 1);
  const before = await commandCalls();

  // The publishes reach Redis's socket, Redis does not answer, the backplane gives up on them and
  // resets the connection. Redis runs them when it wakes (they were in its socket buffer).
  redis!.pause();
  const sent = Array.from({ length: 5 }, (_, n) => a.hub.broadcast({ data: `hung ${n}` }));
  await waitUntil(() => a.backplane.state === 'outage', 'a to report the outage', 5000);
  expect(messages(a)[0]).toMatch(/no answer within 300 ms/);
  // An outage, caused by a command that timed out.
  expect(a.errors[0]).toMatchObject({ code: 'BACKPLANE_UNAVAILABLE', cause: { name: 'SseHubError', code: 'BACKPLANE_TIMEOUT' } });
  await sleep(200);
  expect(ids(ca)).toEqual([first]);
  redis!.resume();

  await waitUntil(() => a.backplane.state === 'connected', 'a to be in step again', 15_000);
  for (const c of [ca, cb]) {
    await c.waitForEvents(6, 10_000);
    await sleep(200);
    expect(ids(c)).toEqual([first, ...sent]);
  }
  expect(await loggedUids()).toEqual([first, ...sent]);
  const after = await commandCalls();
  expect(after.xadd - before.xadd).toBe(5);
  // 5 runs: the reader saw them first, so they were not resent; 10: resent, and the resends found them.
  console.log(`frozen publishes: the publish script ran ${after.hget - before.hget} times for ${sent.length} broadcasts`);
  expect(after.hget - before.hget).toBeGreaterThanOrEqual(5);
  expect(messages(a)).toHaveLength(1);
});

test('publishes whose replies were lost (they reached Redis) are resent, and Redis keeps each once', async () => {
  redis = await OwnRedis.start();
  const proxy = await new LossyProxy(redis.port).listen();
  stoppers.push(() => void proxy.close());
  prefix = uniquePrefix('f');
  // A long block: the readers, whose replies are lost too, notice only well after the resends.
  cluster = await startCluster(['express', 'hono'], { backplane: { url: proxy.url, prefix, timeout: 300, block: 3000 } });
  const [a, b] = cluster;
  const ca = await open(a!);
  const cb = await open(b!);
  const first = a!.hub.broadcast({ data: 'first' });
  await waitHeard(cluster, 1);
  await ca.waitForEvents(1);
  const before = await commandCalls();

  proxy.loseReplies();
  const sent = Array.from({ length: 5 }, (_, n) => a!.hub.broadcast({ data: `lost reply ${n}` }));
  await waitUntil(() => a!.backplane.state === 'outage', 'a to give up on the publishes', 5000);
  expect(messages(a!)[0]).toMatch(/no answer within 300 ms/);
  // On a new connection the resends go through: each finds its broadcast there already.
  await waitUntil(() => a!.backplane.outboxSize === 0, 'the resends to be confirmed', 5000);
  const after = await commandCalls();
  expect(after.hget - before.hget).toBe(10);
  expect(after.xadd - before.xadd).toBe(5);
  expect(await loggedUids()).toEqual([first, ...sent]);
  // Nothing was delivered yet (the readers' replies are lost as well); they reset, read on, deliver each once.
  expect(ids(ca)).toEqual([first]);
  for (const c of [ca, cb]) {
    await c.waitForEvents(6, 10_000);
    await sleep(200);
    expect(ids(c)).toEqual([first, ...sent]);
  }
  await waitUntil(() => cluster.every((i) => i.backplane.state === 'connected'), 'both hubs to be in step', 10_000);
  // One outage, reported once, even though the reader relapsed while the hub was catching up.
  expect(messages(a!)).toHaveLength(1);
});

test('Redis refusing writes (OOM): broadcasts wait, the refusal is reported as an outage, and they go out in order once it accepts them', async () => {
  const [a, b] = await start(false);
  const ca = await open(a);
  const cb = await open(b);
  const first = a.hub.broadcast({ data: 'first' });
  await waitHeard(cluster, 1);
  const admin = new Redis(redis!.url);
  try {
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    const sent = Array.from({ length: 5 }, (_, n) => a.hub.broadcast({ data: `refused ${n}` }));
    await waitUntil(() => a.backplane.state === 'outage', 'a to report the refusal');
    expect(messages(a)).toHaveLength(1);
    expect(messages(a)[0]).toMatch(/refuses broadcasts.*OOM/);
    expect(codes(a)).toEqual(['BACKPLANE_UNAVAILABLE']);
    await sleep(1500);
    // Retried, still refused: nothing delivered, nothing reported twice, nothing lost.
    expect(ids(ca)).toEqual([first]);
    expect(ids(cb)).toEqual([first]);
    expect(messages(a)).toHaveLength(1);
    expect(a.backplane.outboxSize).toBe(5);
    const later = a.hub.broadcast({ data: 'later' });

    await admin.config('SET', 'maxmemory', '0');
    for (const c of [ca, cb]) {
      await c.waitForEvents(7, 5000);
      await sleep(100);
      expect(ids(c)).toEqual([first, ...sent, later]);
    }
    await waitUntil(() => a.backplane.state === 'connected', 'a to be in step again');
    // 'catching-up' shows only when the retried outbox is still sending at the moment Redis accepts again.
    expect(a.states.filter((st) => st !== 'catching-up')).toEqual(['connected', 'outage', 'connected']);
    expect(a.states.slice(-1)).toEqual(['connected']);
  } finally {
    admin.disconnect();
  }
});

test('broadcasts made before the backplane joined wait, and reach every hub once it has', async () => {
  const [, b] = await start(false);
  const cb = await open(b);
  const { createHub } = await import('@ssehub/core');
  const { redisBackplane } = await import('@ssehub/redis');
  const errors: unknown[] = [];
  const late = createHub({ heartbeat: 0, backplane: redisBackplane({ url: redis!.url, prefix }), onError: (e) => errors.push(e) });
  const heard: string[] = [];
  void (async () => {
    for await (const m of late.listen()) heard.push(m.id);
  })();
  try {
    const early = [late.broadcast({ data: 'early 1' }), late.broadcast({ data: 'early 2' })];
    expect(late.backplaneState).toBe('connecting');
    await waitUntil(() => heard.length === 2, 'the joining hub to deliver its own early broadcasts');
    await cb.waitForEvents(2);
    expect(heard).toEqual(early);
    expect(ids(cb)).toEqual(early);
    expect(errors).toEqual([]);
  } finally {
    await late.close();
  }
});

test('close() gives the outbox a bounded chance: with Redis up it is published, with Redis down it is dropped and reported', async () => {
  const [a, b] = await start(false, { backplane: { timeout: 500 } });
  const cb = await open(b);
  const burst = Array.from({ length: 300 }, (_, n) => a.hub.broadcast({ data: `burst ${n}` }));
  await a.hub.close();
  await cb.waitForEvents(300, 10_000);
  expect(ids(cb)).toEqual(burst);
  expect(messages(a)).toEqual([]);

  // b publishes while Redis is down, then closes: it does not hang, and says what it dropped.
  await down();
  for (let n = 0; n < 3; n++) b.hub.broadcast({ data: `lost ${n}` });
  const t = Date.now();
  await b.hub.close();
  expect(Date.now() - t).toBeLessThan(1500);
  expect(messages(b).filter((m) => /closed with 3 broadcasts/.test(m))).toHaveLength(1);
  expect(codes(b)).toContain('BACKPLANE_UNPUBLISHED');
});
