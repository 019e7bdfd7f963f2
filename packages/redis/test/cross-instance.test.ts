/**
 * Several hub instances (separate hubs, backplanes and HTTP servers behind different adapters) on one
 * real Redis act as one hub: live delivery, ids and order, and replay when a client moves.
 */
import { createHub } from '@ssehub/core';
import { redisBackplane } from '@ssehub/redis';
import { HttpStream, EsClient, failOnUnhandledRejections, sleep, waitUntil } from '../../testing/src/clients';
import { startServer } from '../../testing/src/servers';
import { dropPrefix, requireRedis, uniquePrefix, REDIS_URL } from './redis-helpers';
import type { AdapterName } from '../../testing/src/servers';
import { expectedFrom, RoundRobin, startCluster, stopCluster, waitHeard, visibleTo, type ClusterOptions, type Instance, openStream } from './cluster-helpers';

jest.setTimeout(60_000);

failOnUnhandledRejections();
beforeAll(async () => {
  await requireRedis();
});

let prefix: string;
let cluster: Instance[] = [];
const streams: HttpStream[] = [];
/** Released after each test, pass or fail, so no client keeps reconnecting. */
const cleanups: (() => unknown)[] = [];

async function start(options: ClusterOptions = {}, adapters: AdapterName[] = ['express', 'koa', 'hono']) {
  prefix = uniquePrefix('x');
  cluster = await startCluster([...adapters], { ...options, backplane: { url: REDIS_URL, prefix, ...options.backplane } });
  return cluster;
}

const open = (i: Instance, query = '', headers: Record<string, string> = {}) => openStream(streams, i, query, headers);

afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  for (const f of cleanups.splice(0)) await f();
  const errors = cluster.flatMap((i) => i.errors);
  await stopCluster(cluster.splice(0));
  await dropPrefix(prefix);
  expect(errors).toEqual([]);
});

test('a broadcast on any instance reaches the clients of every instance: same ids, same order, channels and client ids', async () => {
  const [a, b, c] = await start();
  const all = [await open(a), await open(b), await open(c)];
  const room = await open(b, '?channel=room');
  const user = await open(c, '?id=u1');
  await waitUntil(() => a.hub.size + b.hub.size + c.hub.size === 5, 'five connections');

  const ids: string[] = [];
  for (let n = 0; n < 40; n++) {
    const from = [a, b, c][n % 3]!;
    if (n % 4 === 0) ids.push(from.hub.broadcast({ data: { n }, channel: 'room' }));
    else if (n % 4 === 1) ids.push(from.hub.broadcast({ data: { n }, channel: 'elsewhere' }));
    else if (n % 4 === 2) {
      expect(from.hub.broadcastTo('u1', { data: { n } })).toBe(from === c ? 1 : 0);
      ids.push(''); // its id is read back from listen()
    } else ids.push(from.hub.broadcast({ event: 'tick', data: { n } }));
  }
  await waitHeard(cluster, 40);

  // Every hub heard every broadcast, in one order.
  const order = a.heard.map((m) => m.id);
  expect(new Set(order).size).toBe(40);
  for (const i of cluster) expect(i.heard.map((m) => m.id)).toEqual(order);
  for (const id of ids) if (id) expect(order).toContain(id);
  expect(a.heard.map((m) => (m.data as { n: number }).n).sort((x, y) => x - y)).toEqual([...Array(40).keys()]);

  const want = (channels: string[], clientId?: string) =>
    a.heard.filter((m) => visibleTo(m, channels, clientId));
  for (const s of all) await s.waitForEvents(10);
  await room.waitForEvents(20);
  await user.waitForEvents(20);
  await sleep(100);
  for (const s of all) expect(s.events.map((e) => e.id)).toEqual(want([]).map((m) => m.id));
  expect(room.events.map((e) => e.id)).toEqual(want(['room']).map((m) => m.id));
  expect(user.events.map((e) => e.id)).toEqual(want([], 'u1').map((m) => m.id));
  // The bytes are the publishing hub's: event type and JSON data survive the trip.
  const tick = a.heard.find((m) => m.event === 'tick')!;
  expect(all[1]!.events.find((e) => e.id === tick.id)).toEqual({ event: 'tick', data: JSON.stringify(tick.data), id: tick.id });
  for (const i of cluster) expect(i.heard.find((m) => m.event === 'tick')).toEqual(tick);
});

test('a broadcast to several channels reaches a subscriber of any of them once, on every instance, and replays the same way', async () => {
  const [a, b] = await start({}, ['express', 'hono']);
  const both = await open(b, '?channel=x&channel=y');
  const onlyY = await open(a, '?channel=y');
  const none = await open(b);
  await waitUntil(() => a.hub.size + b.hub.size === 3, 'three connections');
  const first = a.hub.broadcast({ data: 'start' });
  a.hub.broadcast({ data: 'xy', channel: ['x', 'y'] });
  b.hub.broadcast({ data: 'z', channel: ['z'] });
  a.hub.broadcast({ data: 'end' });
  await waitHeard(cluster, 4);
  await Promise.all([both.waitForEvents(3), onlyY.waitForEvents(3), none.waitForEvents(2)]);
  await sleep(50);
  expect(both.events.map((e) => e.data)).toEqual(['start', 'xy', 'end']);
  expect(onlyY.events.map((e) => e.data)).toEqual(['start', 'xy', 'end']);
  expect(none.events.map((e) => e.data)).toEqual(['start', 'end']);
  expect(b.heard.find((m) => m.data === 'xy')!.channel).toEqual(['x', 'y']);
  // A subscriber of one of the channels, resuming on the other instance, gets it replayed.
  const again = await open(a, '?channel=x', { 'Last-Event-ID': first });
  await again.waitForEvents(2);
  expect(again.events.map((e) => e.data)).toEqual(['xy', 'end']);
});

// history 0: no local cache, so every replay reads Redis and chases the live stream to the cut.
test.each([1000, 0])('a client that moves to another instance with its Last-Event-ID gets exactly what it missed, in order, while events flow (local cache %i)', async (history) => {
  const [a, b, c] = await start({ hub: { history } });
  const instances = [a, b, c];
  let published = 0;
  let publishing = true;
  const publisher = (async () => {
    while (publishing) {
      const from = instances[published % 3]!;
      from.hub.broadcast({ data: `event ${published}`, channel: published % 5 === 0 ? 'other' : undefined });
      published++;
      await sleep(published % 7 === 0 ? 3 : 0);
    }
  })();

  const read: string[] = [];
  let last: string | undefined;
  for (let hop = 0; hop < 9; hop++) {
    const s = await open(instances[hop % 3]!, '', last ? { 'Last-Event-ID': last } : {});
    await s.waitForEvents(5 + hop);
    s.close();
    read.push(...s.events.map((e) => e.id!));
    last = read[read.length - 1];
    // Away for a while: what is published meanwhile must come back by replay.
    await sleep(hop * 5);
  }
  publishing = false;
  await publisher;
  await waitHeard(cluster, published);
  const s = await open(b, '', { 'Last-Event-ID': last! });
  const expected = expectedFrom(a.heard, read[0]!, []);
  await s.waitForEvents(expected.length - read.length, 10_000);
  read.push(...s.events.map((e) => e.id!));
  expect(read).toEqual(expected);
  expect(s.events.every((e) => e.event === 'message')).toBe(true);
});

test.each([1000, 0])('real EventSource clients behind a round-robin balancer, cut again and again, each get every event of their channels once, in order (local cache %i)', async (history) => {
  const instances = await start({ hub: { retry: 20, history } });
  const lb = await new RoundRobin(instances.map((i) => i.server.port)).listen();
  cleanups.push(() => lb.close());
  const specs = [
    { channels: [] as string[] },
    { channels: ['red'] },
    { channels: ['red', 'blue'] },
    { channels: ['blue'], id: 'u7' },
  ];
  const clients = specs.map((spec) => {
    const q = new URLSearchParams();
    for (const ch of spec.channels) q.append('channel', ch);
    if (spec.id) q.set('id', spec.id);
    const cl = new EsClient(`http://127.0.0.1:${lb.port}/events?${q}`, ['ssehub-resync']);
    cleanups.push(() => cl.close());
    return cl;
  });
  for (const cl of clients) await cl.waitForOpen();

  let published = 0;
  let publishing = true;
  const publisher = (async () => {
    while (publishing) {
      const hub = instances[published % 3]!.hub;
      const kind = published % 4;
      if (kind === 0) hub.broadcast({ data: String(published) });
      else if (kind === 1) hub.broadcast({ data: String(published), channel: 'red' });
      else if (kind === 2) hub.broadcast({ data: String(published), channel: 'blue' });
      else hub.broadcastTo(published % 8 === 3 ? 'u7' : 'nobody', { data: String(published) });
      published++;
      await sleep(1);
    }
  })();
  // Each cut makes every client reconnect through the balancer, to the next instance in turn.
  for (let cut = 0; cut < 6; cut++) {
    await sleep(60);
    lb.cut();
    await waitUntil(() => clients.every((cl) => cl.opens >= cut + 2), `reconnect #${cut + 1}`, 10_000);
  }
  publishing = false;
  await publisher;
  await waitHeard(instances, published);
  const global = instances[0]!.heard;
  for (const [k, cl] of clients.entries()) {
    const expected = expectedFrom(global, cl.events[0]!.id!, specs[k]!.channels, specs[k]!.id);
    await waitUntil(() => cl.events.length >= expected.length, `client ${k} to catch up`, 10_000).catch(() => undefined);
    expect(cl.events.filter((e) => e.event !== 'message')).toEqual([]);
    expect(cl.events.map((e) => e.id)).toEqual(expected);
    expect(cl.opens).toBeGreaterThanOrEqual(7);
  }
});

test('an unknown id, or one trimmed from the shared history, takes the gap path on any instance, never a partial replay', async () => {
  const gaps: [string, string | undefined][] = [];
  const [a, b] = await start(
    {
      backplane: { maxLen: 10 },
      hub: {
        initMessages: (clientLastEventId, hubLastEventId) => {
          gaps.push([clientLastEventId, hubLastEventId]);
          return [{ event: 'snapshot', data: 'reload' }];
        },
      },
    },
    ['koa', 'hono'],
  );
  const ids: string[] = [];
  for (let n = 0; n < 30; n++) {
    ids.push(a.hub.broadcast({ data: n }));
    // One at a time: a burst longer than maxLen would outrun the readers (a 'behind' reset).
    await waitHeard(cluster, n + 1);
  }

  const unknown = await open(b, '', { 'Last-Event-ID': 'never-issued' });
  await unknown.waitForEvents(1);
  expect(unknown.events[0]).toMatchObject({ event: 'snapshot', data: 'reload' });
  expect(gaps).toEqual([['never-issued', ids[29]]]);
  await sleep(50);
  expect(unknown.events).toHaveLength(1);

  // A third instance that joins later has nothing local: the shared history (10 kept) decides.
  const late = (await startCluster(['express'], { backplane: { url: REDIS_URL, prefix, maxLen: 10 } }))[0]!;
  cluster.push(late);
  const trimmed = await open(late, '', { 'Last-Event-ID': ids[5]! });
  await trimmed.waitForEvents(1);
  expect(trimmed.events[0]!.event).toBe('ssehub-resync');
  expect(JSON.parse(trimmed.events[0]!.data)).toMatchObject({ reason: 'unknown-id', lastEventId: ids[5] });
  const kept = await open(late, '', { 'Last-Event-ID': ids[24]! });
  await kept.waitForEvents(5);
  await sleep(50);
  expect(kept.events.map((e) => e.id)).toEqual(ids.slice(25));
});

test('broadcastTo is replayed across instances to that client id only', async () => {
  const [a, b, c] = await start();
  const u1 = await open(a, '?id=u1');
  const first = b.hub.broadcast({ data: 'for all' });
  await u1.waitForEvents(1);
  u1.close();
  b.hub.broadcastTo('u1', { data: 'for u1' });
  b.hub.broadcastTo('u2', { data: 'for u2' });
  c.hub.broadcast({ data: 'for all again', channel: 'side' });
  const after = c.hub.broadcast({ data: 'for all, last' });
  await waitHeard(cluster, 5);
  const back = await open(c, '?id=u1', { 'Last-Event-ID': first });
  await back.waitForEvents(2);
  await sleep(50);
  expect(back.events.map((e) => e.data)).toEqual(['for u1', 'for all, last']);
  expect(back.events[1]!.id).toBe(after);
  const other = await open(a, '?id=u3', { 'Last-Event-ID': first });
  await other.waitForEvents(1);
  await sleep(50);
  expect(other.events.map((e) => e.data)).toEqual(['for all, last']);
});

test('a client that arrives at an instance still joining, with an id it has not reached, gets exactly what follows it', async () => {
  const [a] = await start({}, ['express']);
  const ids: string[] = [];
  for (let n = 0; n < 10; n++) ids.push(a.hub.broadcast({ data: `n${n}` }));
  await waitHeard(cluster, 10);
  // A new instance, not awaited: its hub has applied nothing when the client arrives.
  const backplane = redisBackplane({ url: REDIS_URL, prefix });
  const hub = createHub({ heartbeat: 0, backplane });
  const server = await startServer('koa', hub);
  cleanups.push(async () => {
    await hub.close();
    await server.close();
  });
  const s = await HttpStream.open(`${server.origin}/events`, { 'Last-Event-ID': ids[3]! });
  streams.push(s);
  await s.waitForEvents(6);
  const next = a.hub.broadcast({ data: 'live' });
  await s.waitForEvents(7);
  await sleep(50);
  expect(s.events.map((e) => e.id)).toEqual([...ids.slice(4), next]);
});

test('a client that moves to an instance lagging behind it waits there until that instance catches up, then gets only what follows', async () => {
  const [a] = await start({}, ['hono']);
  // b reads one entry per round trip, so a burst leaves it behind a.
  const b = (await startCluster(['express'], { backplane: { url: REDIS_URL, prefix, batch: 1 } }))[0]!;
  cluster.push(b);
  const burst = Array.from({ length: 2000 }, (_, n) => a.hub.broadcast({ data: `burst ${n}` }));
  // a reads 500 entries per round trip, b one: when a has them all, b is far behind.
  await waitHeard([a], 2000);
  expect(b.heard.length).toBeLessThan(2000);
  const onB = await open(b, '', { 'Last-Event-ID': burst[1999]! });
  await waitHeard([b], 2000, 20_000);
  const next = a.hub.broadcast({ data: 'after the burst' });
  await onB.waitForEvents(1);
  await sleep(100);
  expect(onB.events.map((e) => e.id)).toEqual([next]);
});

test('replayAll replays the shared history, not only what the instance saw, to a client with no Last-Event-ID', async () => {
  const [a] = await start({ hub: { replayAll: true } }, ['hono']);
  const ids = [a.hub.broadcast({ data: 'one' }), a.hub.broadcast({ data: 'two', channel: 'x' }), a.hub.broadcast({ data: 'three' })];
  await waitHeard(cluster, 3);
  const late = (await startCluster(['express'], { hub: { replayAll: true }, backplane: { url: REDIS_URL, prefix } }))[0]!;
  cluster.push(late);
  const s = await open(late);
  await s.waitForEvents(2);
  await sleep(50);
  expect(s.events.map((e) => e.id)).toEqual([ids[0], ids[2]]);
});
