/**
 * Faults, against a redis-server of the test's own that is stopped and restarted mid-stream: local
 * delivery goes on, nothing grows without bound, the backplane reconnects by itself, what was
 * published meanwhile is delivered, and a Redis that lost its data is detected (new epoch).
 */
import { Redis } from 'ioredis';
import { HttpStream, failOnUnhandledRejections, sleep, waitUntil } from '../../testing/src/clients';
import type { AdapterName } from '../../testing/src/servers';
import { OwnRedis, requireRedis, uniquePrefix } from './redis-helpers';
import { startCluster, stopCluster, waitHeard, type ClusterOptions, type Instance, openStream } from './cluster-helpers';

jest.setTimeout(60_000);

failOnUnhandledRejections();
beforeAll(async () => {
  // The fault tests run their own server, but fail like the rest of the suite when Redis is missing.
  await requireRedis();
});

let redis: OwnRedis | undefined;
let cluster: Instance[] = [];
const streams: HttpStream[] = [];

async function start(persist: boolean, options: ClusterOptions = {}, adapters: AdapterName[] = ['express', 'hono']) {
  redis = await OwnRedis.start({ persist });
  cluster = await startCluster(adapters, { ...options, backplane: { url: redis.url, prefix: uniquePrefix('f'), ...options.backplane } });
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
const messages = (i: Instance) => i.errors.map((e) => (e instanceof Error ? e.message : String(e)));

afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  await stopCluster(cluster.splice(0));
  await redis?.destroy();
  redis = undefined;
});

test('Redis restarts with its data: local delivery goes on meanwhile, then every event reaches every instance once, with no resync', async () => {
  const [a, b] = await start(true, {}, ['express', 'koa']);
  const ca = await open(a);
  const cb = await open(b);
  for (let n = 0; n < 10; n++) (n % 2 ? a : b).hub.broadcast({ data: `before ${n}` });
  await waitHeard(cluster, 10);
  // Concurrent publishers: Redis decides the one order.
  const before = a.heard.map((m) => m.id);

  await down();
  const fromA = Array.from({ length: 15 }, (_, n) => a.hub.broadcast({ data: `a down ${n}` }));
  const fromB = Array.from({ length: 15 }, (_, n) => b.hub.broadcast({ data: `b down ${n}` }));
  // Each instance's own clients get its broadcasts at once, Redis or not.
  await ca.waitForEvents(25);
  await cb.waitForEvents(25);
  expect(ids(ca)).toEqual([...before, ...fromA]);
  expect(ids(cb)).toEqual([...before, ...fromB]);
  expect(a.backplane.outboxSize).toBe(15);
  expect(messages(a).some((m) => /unreachable/.test(m))).toBe(true);

  await up();
  await waitUntil(() => a.backplane.outboxSize + b.backplane.outboxSize === 0, 'both outboxes to be resent');
  const after = [a.hub.broadcast({ data: 'after 1' }), b.hub.broadcast({ data: 'after 2' })];
  await ca.waitForEvents(42, 10_000);
  await cb.waitForEvents(42, 10_000);
  await sleep(100);
  // What the other instance published during the outage arrives once Redis is back, once each.
  expect(ids(ca)).toEqual([...before, ...fromA, ...fromB, ...after]);
  expect(ids(cb)).toEqual([...before, ...fromB, ...fromA, ...after]);
  expect(ids(ca, 'ssehub-resync')).toEqual([]);

  // A client that left before the outage resumes on either instance with what it missed.
  const back = await open(b, '', { 'Last-Event-ID': before[9]! });
  await back.waitForEvents(32);
  await sleep(50);
  expect(new Set(ids(back))).toEqual(new Set([...fromA, ...fromB, ...after]));
  expect(ids(back)).toHaveLength(32);
});

test('Redis restarts empty: the new epoch is detected, clients are told to resync, old ids take the gap path, outage events are delivered', async () => {
  const [a, b] = await start(false);
  const ca = await open(a, '?channel=news');
  const cb = await open(b, '?channel=news');
  const before: string[] = [];
  for (let n = 0; n < 6; n++) before.push(a.hub.broadcast({ data: `before ${n}`, channel: n % 2 ? 'news' : undefined }));
  await waitHeard(cluster, 6);

  await down();
  const meanwhile = Array.from({ length: 4 }, (_, n) => a.hub.broadcast({ data: `down ${n}`, channel: 'news' }));
  await ca.waitForEvents(10);
  await up();
  // b heard of the reset, then of what a published while Redis was down (a's outbox, in the new epoch).
  await cb.waitForEvents(6 + 4 + 1, 10_000);
  expect(ids(cb)).toEqual([...before, ...meanwhile]);
  const resync = cb.events.find((e) => e.event === 'ssehub-resync')!;
  expect(JSON.parse(resync.data)).toMatchObject({ reason: 'backplane-epoch' });
  await waitUntil(() => ca.events.some((e) => e.event === 'ssehub-resync'), 'a to tell its client to resync');
  expect(ids(ca)).toEqual([...before, ...meanwhile]);

  // An id from the old epoch is unknown everywhere now: the gap path, never a partial replay.
  for (const i of [a, b]) {
    const old = await open(i, '', { 'Last-Event-ID': before[2]! });
    await old.waitForEvents(1);
    await sleep(50);
    expect(old.events.map((e) => e.event)).toEqual(['ssehub-resync']);
    expect(JSON.parse(old.events[0]!.data)).toMatchObject({ reason: 'unknown-id', lastEventId: before[2] });
  }
  // And the new epoch works across instances.
  const next = b.hub.broadcast({ data: 'new epoch' });
  await waitUntil(() => ids(ca).includes(next), 'a broadcast of b to reach a client of a');
});

test('while Redis is down nothing grows without bound, replays answer with the gap path, and the hub keeps serving', async () => {
  const [a, b] = await start(false, { backplane: { maxOutbox: 20 } });
  const ca = await open(a);
  const cb = await open(b);
  a.hub.broadcast({ data: 'first' });
  await waitHeard(cluster, 1);

  await down();
  const sent = Array.from({ length: 500 }, (_, n) => a.hub.broadcast({ data: `down ${n}` }));
  await ca.waitForEvents(501);
  expect(a.heard).toHaveLength(501);
  expect(a.backplane.outboxSize).toBe(20);
  expect(messages(a).filter((m) => /outbox full/.test(m))).toHaveLength(480);
  // A client the local cache cannot serve gets the gap path at once, not a wait on Redis.
  const lost = await open(b, '', { 'Last-Event-ID': 'from-elsewhere' });
  await lost.waitForEvents(1);
  expect(JSON.parse(lost.events[0]!.data)).toMatchObject({ reason: 'unavailable' });
  expect(b.hub.size).toBe(2);

  await up();
  // Only the newest maxOutbox broadcasts survive to reach b, in order, after the reset notice.
  await waitUntil(() => ids(cb).length >= 21, 'b to receive the kept outbox', 10_000);
  await sleep(100);
  expect(ids(cb)).toEqual([ids(ca)[0], ...sent.slice(480)]);
  expect(a.backplane.outboxSize).toBe(0);
});

test('a hung Redis (frozen, connections open) is detected by timeouts: local delivery resumes, and all is sent once it answers again', async () => {
  const [a, b] = await start(false, { backplane: { timeout: 300, block: 500 } });
  const ca = await open(a);
  const cb = await open(b);
  a.hub.broadcast({ data: 'first' });
  await waitHeard(cluster, 1);

  redis!.pause();
  const sent = Array.from({ length: 5 }, (_, n) => a.hub.broadcast({ data: `hung ${n}` }));
  // The publishes time out, the connection is reset, and a's own client gets them without Redis.
  await ca.waitForEvents(6, 5000);
  expect(ids(ca).slice(1)).toEqual(sent);
  await waitUntil(() => !a.backplane.connected, 'a to give up on the hung connection');
  const later = a.hub.broadcast({ data: 'while hung' });
  await ca.waitForEvents(7);

  redis!.resume();
  await waitUntil(() => cluster.every((i) => i.backplane.connected), 'every backplane to reconnect', 15_000);
  await cb.waitForEvents(7, 10_000);
  await sleep(100);
  expect(ids(cb)).toEqual([ids(ca)[0], ...sent, later]);
  expect(ids(cb, 'ssehub-resync')).toEqual([]);
});

test('data flushed under a connected backplane (FLUSHALL, an eviction) is noticed within a block: resync, then the new data set', async () => {
  const [a, b] = await start(false, { backplane: { block: 300 } });
  const ca = await open(a);
  const cb = await open(b);
  for (let n = 0; n < 3; n++) a.hub.broadcast({ data: `before ${n}` });
  await waitHeard(cluster, 3);
  const admin = new Redis(redis!.url);
  await admin.flushall();
  admin.disconnect();
  // Positions restart at 1, below every reader's cursor, where XREAD would never look.
  const after = a.hub.broadcast({ data: 'after the flush' });
  for (const c of [ca, cb]) {
    await waitUntil(() => ids(c).includes(after), 'the broadcast after the flush', 10_000);
    expect(c.events.map((e) => e.event)).toEqual(['message', 'message', 'message', 'ssehub-resync', 'message']);
    expect(JSON.parse(c.events[3]!.data)).toMatchObject({ reason: 'backplane-epoch' });
  }
});
