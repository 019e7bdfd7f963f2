/**
 * The hub's side of a backplane (src/hub/shared-log.ts, SharedLog and SharedReplay), driven through
 * an in-memory shared log whose timing the test controls: several hubs in this process attach to one
 * log, each through its own Backplane object; the log hands entries to a hub at once or when the test
 * says, holds or fails replay answers, and the test calls the handler (`advance`, `reset`, `state`,
 * `error`) itself. Asserted as the exact events (or bytes) each client reads: one global order, no
 * local shortcut, resuming on another hub without gap or duplicate (events applied while a replay is
 * held included), clients ahead of their hub, failed and gapped replays, resets, link states, health,
 * channels and `to` across hubs, and closing. Redis's backplane: packages/redis (its own tests).
 */
import type {
  Backplane,
  BackplaneEntry,
  BackplaneHandler,
  BackplaneRecord,
  BackplaneReplay,
  Client,
  Delivered,
  Hub,
  HubLogger,
  HubOptions,
} from '@ssehub/core';
import { createParser } from 'eventsource-parser';
import { failOnUnhandledRejections } from '../../testing/src/clients';
import { TestSink, hubFactory } from './test-sink';

const { hub, closeHubs } = hubFactory();
afterEach(async () => {
  jest.useRealTimers();
  await closeHubs();
});

// A rejected replay the hub forgot to handle would otherwise pass unnoticed.
failOnUnhandledRejections();

/** Lets the microtasks run: replay answers, the hub's once-per-turn flush. */
const turn = () => new Promise((r) => setImmediate(r));

// ---- the in-memory shared log ------------------------------------------------------------------

/** One call of `replay()`, with what the test may do with its answer while it is held. */
interface ReplayCall {
  readonly after: string | number | undefined;
  readonly upTo: number;
  /** Answers from the log as it is now. */
  release(): void;
  /** Answers this. */
  answer(r: BackplaneReplay): void;
  fail(err: unknown): void;
}

/** The shared, ordered log every hub of a test attaches to. */
class MemoryLog {
  /** Every entry appended; the one at position p is `entries[p - 1]`. */
  readonly entries: BackplaneEntry[] = [];
  /** Positions at or below this are no longer kept (trimmed, or lost with an epoch). */
  keptAfter = 0;
  /** Event id -> position, for the ids of this epoch. */
  private readonly index = new Map<string, number>();
  readonly members = new Set<MemoryBackplane>();
  /** When false, appended entries reach the hubs only on `flush()`. */
  auto = true;

  get head(): number {
    return this.entries.length;
  }

  append(r: BackplaneRecord): void {
    const entry: BackplaneEntry = { ...r, pos: this.entries.length + 1 };
    this.entries.push(entry);
    this.index.set(r.id, entry.pos!);
    if (this.auto) this.flush();
  }

  /** Hands every hub (those held excepted) what it has not had yet, in order. */
  flush(): void {
    for (const m of this.members) m.catchUp();
  }

  /** A new epoch: the ids and entries so far are gone, and every hub is told. */
  newEpoch(): void {
    this.index.clear();
    this.keptAfter = this.head;
    for (const m of this.members) m.reset('epoch');
  }

  /** The entries `from < pos <= upTo`, as the contract answers them. */
  read(after: string | number | undefined, upTo: number): BackplaneReplay {
    let from: number;
    if (typeof after === 'string') {
      const pos = this.index.get(after);
      if (pos === undefined) return { kind: 'gap', reason: 'unknown-id' };
      from = pos;
    } else {
      from = after ?? this.keptAfter;
    }
    if (from < this.keptAfter) return { kind: 'gap', reason: 'expired' };
    return { kind: 'replay', from, entries: this.entries.slice(from, Math.max(from, upTo)) };
  }
}

/** One hub's link to a {@link MemoryLog}. */
class MemoryBackplane implements Backplane {
  handler!: BackplaneHandler;
  /** Position of the last entry handed to this hub. */
  cursor = 0;
  /** While true this hub gets nothing: it falls behind the log. */
  held = false;
  /** While true, replay answers wait for the test (see {@link ReplayCall}). */
  holdReplays = false;
  readonly replays: ReplayCall[] = [];
  closed = false;

  constructor(
    readonly log: MemoryLog,
    /** Joins at the head at once (as Redis's first contact does); else the test says when. */
    private readonly joinAtOnce = true,
  ) {}

  attach(handler: BackplaneHandler): void {
    this.handler = handler;
    this.log.members.add(this);
    if (this.joinAtOnce) this.join();
  }

  /** First contact: live from the log's head on, older entries served by replay. */
  join(): void {
    this.cursor = this.log.head;
    this.handler.advance(this.cursor);
    this.handler.state('connected');
  }

  publish(record: BackplaneRecord): void {
    this.log.append(record);
  }

  replay(after: string | number | undefined, upTo: number): Promise<BackplaneReplay> {
    return new Promise((resolve, reject) => {
      this.replays.push({ after, upTo, release: () => resolve(this.log.read(after, upTo)), answer: resolve, fail: reject });
      if (!this.holdReplays) resolve(this.log.read(after, upTo));
    });
  }

  /** Hands this hub the entries up to position `to` (default: the head), unless it is held. */
  catchUp(to = this.log.head): void {
    // Closed or not: a backplane may still hand over what was in flight, and the hub must ignore it.
    if (this.held) return;
    // The cursor moves before each delivery, so a broadcast made while one is applied keeps the order.
    while (this.cursor < to) this.handler.deliver(this.log.entries[this.cursor++]!);
  }

  reset(reason: 'epoch' | 'behind'): void {
    this.cursor = this.log.head;
    this.handler.reset(reason, this.cursor);
  }

  stats(): { outbox: number; behind: number } {
    return { outbox: 0, behind: this.log.head - this.cursor };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The latest replay call. */
  get last(): ReplayCall {
    return this.replays[this.replays.length - 1]!;
  }
}

/** A hub attached to `log`, with what it reports to onError. */
function hubOn(log: MemoryLog, options: HubOptions = {}, joinAtOnce = true): { h: Hub; bp: MemoryBackplane; errors: unknown[] } {
  const bp = new MemoryBackplane(log, joinAtOnce);
  const errors: unknown[] = [];
  const h = hub({ onError: (e) => errors.push(e), ...options, backplane: bp });
  return { h, bp, errors };
}

// ---- reading what clients get ------------------------------------------------------------------

/** A client: its sink, and the hub's view of it. */
function open(h: Hub, params: { lastEventId?: string; channels?: string[]; clientId?: string } = {}): { sink: TestSink; client: Client } {
  const sink = new TestSink();
  const client = h.connect(sink, params);
  return { sink, client };
}

/** What a client read, one string per event: its id, or `resync:<reason>` for a resync notice. */
function seen(sink: TestSink): string[] {
  const out: string[] = [];
  const parser = createParser({
    onEvent: (e) => out.push(e.event === 'ssehub-resync' ? `resync:${(JSON.parse(e.data) as { reason: string }).reason}` : e.id ?? '(no id)'),
  });
  parser.feed(sink.text);
  return out;
}

/** The resync notice's exact bytes. */
function resync(reason: string, lastEventId: string | null, head: string | null): string {
  return `id: ${head ?? ''}\nevent: ssehub-resync\ndata: ${JSON.stringify({ reason, lastEventId, hubLastEventId: head })}\n\n`;
}

/** Broadcasts `e<n>` (data `d<n>`) for each n, from `h`. */
function send(h: Hub, ...ns: number[]): void {
  for (const n of ns) h.broadcast({ id: `e${n}`, data: `d${n}` });
}

/** The ids `e<from>`..`e<to>`. */
const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `e${from + i}`);

/** The fields a listen() consumer sees, as a plain object. */
const plain = (m: Delivered) => ({ id: m.id, data: m.data, event: m.event, channel: m.channel, clientId: m.clientId });

/**
 * The entry lists the hub's running shared replays collect into (white box: a replay that finished,
 * gapped or lost its client must stop collecting, or every later entry would be kept for it forever).
 */
const taps = (h: Hub) => (h as unknown as { shared: { taps: Set<unknown[]> } }).shared.taps;

/** Resolves after `ms` of real time. */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- tests ---------------------------------------------------------------------------------------

describe('one order across hubs', () => {
  it('delivers nothing before the log orders it, then the same events in the log order on every hub, the publishing one included', async () => {
    const log = new MemoryLog();
    log.auto = false;
    const a = hubOn(log).h;
    const b = hubOn(log).h;
    const onA = open(a).sink;
    const onB = open(b).sink;
    a.broadcast({ id: 'e1', data: 'd1' });
    b.broadcast({ id: 'e2', data: 'd2' });
    a.broadcast({ id: 'e3', data: 'd3' });
    await turn();
    // No local shortcut: not even the publishing hub's own client has anything yet.
    expect([onA.text, onB.text]).toEqual(['', '']);
    expect([a.lastEventId, a.stats().events, a.stats().eventsPublished]).toEqual([undefined, 0, 2]);
    log.flush();
    await turn();
    // A local shortcut would have given A's client e1, e3 before e2.
    const bytes = 'id: e1\ndata: d1\n\nid: e2\ndata: d2\n\nid: e3\ndata: d3\n\n';
    expect([onA.text, onB.text]).toEqual([bytes, bytes]);
    expect([a.lastEventId, b.lastEventId]).toEqual(['e3', 'e3']);
    expect([a.stats().events, b.stats().events]).toEqual([3, 3]);
  });

  it('answers a unique id for each broadcast, and counts only its own hub’s recipients', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const b = hubOn(log).h;
    const onA = open(a, { clientId: 'u' }).sink;
    open(b, { clientId: 'u' });
    open(b, { clientId: 'u' });
    const sent = [a.send({ data: 'x' }), a.send({ data: 'y' }, { to: 'u' }), b.send({ data: 'z' }, { to: 'u' }), a.send({ data: 'w', id: 'mine' })];
    // Ids made by the hub: one prefix per hub, then a counter; the app's own id as it is.
    expect(sent.map((s) => s.id)).toEqual([
      expect.stringMatching(/^[0-9a-z]+-1$/),
      expect.stringMatching(/^[0-9a-z]+-2$/),
      expect.stringMatching(/^[0-9a-z]+-1$/),
      'mine',
    ]);
    expect(sent[0]!.id.split('-')[0]).not.toBe(sent[2]!.id.split('-')[0]);
    expect(sent.map((s) => s.consumers)).toEqual([1, 1, 2, 1]);
    expect(a.broadcastTo('u', { data: 'v' })).toBe(1);
    await turn();
    expect(onA.text).toBe(
      `id: ${sent[0]!.id}\ndata: x\n\n` +
        `id: ${sent[1]!.id}\ndata: y\n\n` +
        `id: ${sent[2]!.id}\ndata: z\n\n` +
        `id: mine\ndata: w\n\n` +
        `id: ${a.lastEventId}\ndata: v\n\n`,
    );
  });

  it('gives listen() consumers on another hub JSON data parsed, string data as it is, and the channel or client id', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const b = hubOn(log).h;
    const got: Delivered[] = [];
    const done = (async () => {
      for await (const m of b.listen()) got.push(m);
    })();
    a.broadcast({ id: 'j', event: 'tick', data: { n: 1, s: 'x' } });
    a.broadcast({ id: 's', data: '{"n":2}' });
    a.broadcast({ id: 'c', data: [1, 'two'], channel: ['a', 'b'] });
    a.broadcastTo('u7', { id: 't', data: 'hi', retry: 500 });
    await turn();
    await b.close();
    await done;
    expect(got.map(plain)).toEqual([
      { id: 'j', event: 'tick', data: { n: 1, s: 'x' }, channel: undefined, clientId: undefined },
      // A string that reads as JSON stays a string.
      { id: 's', data: '{"n":2}', event: undefined, channel: undefined, clientId: undefined },
      { id: 'c', data: [1, 'two'], event: undefined, channel: ['a', 'b'], clientId: undefined },
      { id: 't', data: 'hi', event: undefined, channel: undefined, clientId: 'u7' },
    ]);
    expect(got[3]!.retry).toBe(500);
  });

  it('encodes an entry from another hub to the bytes the publishing hub writes', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const b = hubOn(log).h;
    const onA = open(a).sink;
    const onB = open(b).sink;
    a.broadcast({ id: 'm', event: 'note', retry: 250, data: 'line 1\nline 2' });
    a.broadcast({ id: 'o', data: { deep: { list: [1, 2] } } });
    await turn();
    const bytes = 'id: m\nevent: note\nretry: 250\ndata: line 1\ndata: line 2\n\nid: o\ndata: {"deep":{"list":[1,2]}}\n\n';
    expect([onA.text, onB.text]).toEqual([bytes, bytes]);
  });
});

describe('latency with a backplane', () => {
  /** A hub on a log that hands entries back only on `flush()`. */
  function heldLog(): { log: MemoryLog; a: Hub } {
    const log = new MemoryLog();
    log.auto = false;
    return { log, a: hubOn(log).h };
  }

  it('counts from the broadcast, not from when the log hands it back', async () => {
    const { log, a } = heldLog();
    const got: number[] = [];
    a.on('latency', (ms) => got.push(ms));
    a.broadcast({ data: 'x' });
    await sleep(200);
    log.flush();
    await turn();
    expect(got).toHaveLength(1);
    expect(got[0]).toBeGreaterThanOrEqual(190);
  });

  it('does not time a broadcast made while nobody listened (it counts from its delivery then)', async () => {
    const { log, a } = heldLog();
    a.broadcast({ data: 'x' });
    await sleep(200);
    const got: number[] = [];
    a.on('latency', (ms) => got.push(ms));
    log.flush();
    await turn();
    expect(got).toHaveLength(1);
    expect(got[0]).toBeLessThan(190);
  });

  it('remembers the broadcast time of at most 100 000 broadcasts the log has not handed back', async () => {
    const { log, a } = heldLog();
    const got: number[] = [];
    a.on('latency', (ms) => got.push(ms));
    for (let i = 0; i <= 100_000; i++) a.broadcast({ data: 'x' });
    await sleep(200);
    log.flush();
    await turn();
    expect(got).toHaveLength(100_001);
    // The first 100 000 count from their broadcast; the one past the bound from its delivery.
    expect(got[99_999]).toBeGreaterThanOrEqual(190);
    expect(got[100_000]).toBeLessThan(190);
  }, 30_000);
});

describe('resuming on another hub', () => {
  it('replays from the shared log what the other hub’s client missed, then what this hub applied while the answer was held, then live: no gap, no duplicate', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const first = open(a).sink;
    send(a, 1, 2);
    await turn();
    expect(seen(first)).toEqual(['e1', 'e2']);
    first.close();
    // B joins after e1 and e2: its own cache never held them.
    const { h: b, bp } = hubOn(log);
    send(a, 3, 4);
    bp.holdReplays = true;
    const again = open(b, { lastEventId: 'e2' }).sink;
    expect(bp.replays.map((r) => [r.after, r.upTo])).toEqual([['e2', 4]]);
    // Applied on B while the answer is held: collected for the client, not queued twice.
    send(a, 5, 6);
    await turn();
    expect(again.text).toBe('');
    bp.last.release();
    await turn();
    expect(seen(again)).toEqual(ids(3, 6));
    send(a, 7);
    await turn();
    expect(again.text).toBe(['e3', 'e4', 'e5', 'e6', 'e7'].map((id) => `id: ${id}\ndata: d${id.slice(1)}\n\n`).join(''));
    // The shared log's entries count as replayed; those collected meanwhile do not.
    expect(b.stats().eventsReplayed).toBe(2);
    expect(taps(b).size).toBe(0);
  });

  it('replays from the local cache, without asking the log, when the cache holds the id', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp } = hubOn(log);
    send(a, 1, 2, 3);
    const again = open(b, { lastEventId: 'e1' }).sink;
    await turn();
    expect(seen(again)).toEqual(['e2', 'e3']);
    expect(bp.replays).toEqual([]);
  });

  it('sends nothing twice when the shared log’s answer already holds entries this hub applied after the replay started', async () => {
    // A log that answers with everything it has, not only up to `upTo` (the contract says up to it).
    // The hub still takes each position once: what it collected meanwhile is added only past upTo.
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp } = hubOn(log);
    send(a, 1, 2);
    bp.holdReplays = true;
    const again = open(b, { lastEventId: 'unknown-here' }).sink;
    expect(bp.last.upTo).toBe(2);
    send(a, 3);
    bp.last.answer({ kind: 'replay', from: 0, entries: log.entries.slice(0, 2) });
    await turn();
    expect(seen(again)).toEqual(['e1', 'e2', 'e3']);
  });

  it('puts an entry the log could not order (no position) after the replay, once', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp } = hubOn(log);
    send(a, 1, 2);
    bp.holdReplays = true;
    const again = open(b, { lastEventId: 'e0' }).sink;
    bp.handler.deliver({ uid: 'u', id: 'loose', data: 'l', json: false });
    bp.last.answer({ kind: 'replay', from: 0, entries: log.entries.slice(0, 2) });
    await turn();
    expect(seen(again)).toEqual(['e1', 'e2', 'loose']);
    // Its position did not move: the next replay still reads up to 2.
    open(b, { lastEventId: 'other' });
    expect(bp.last.upTo).toBe(2);
  });
});

describe('a replay held while very many entries are applied', () => {
  /** Holds a client's replay while `n` entries from the log are applied, then answers it. */
  async function heldAcross(n: number): Promise<{ sink: TestSink; b: Hub; collected: number }> {
    const log = new MemoryLog();
    const { h: b, bp } = hubOn(log, { history: 1 });
    bp.holdReplays = true;
    const { sink } = open(b, { lastEventId: 'e0' });
    for (let pos = 1; pos <= n; pos++) bp.handler.deliver({ uid: `u${pos}`, id: `e${pos}`, data: 'x', json: false, pos });
    const collected = [...taps(b)][0]!.length;
    bp.last.answer({ kind: 'replay', from: 0, entries: [] });
    await turn();
    expect(taps(b).size).toBe(0);
    return { sink, b, collected };
  }

  it('sends all it collected up to 100 000 entries, and makes more than that an unavailable gap', async () => {
    const within = await heldAcross(100_000);
    const all = Array.from({ length: 100_000 }, (_, i) => `id: e${i + 1}\ndata: x\n\n`).join('');
    // Compared as a boolean: a failing diff of 2 MB would not help.
    expect(within.sink.text === all).toBe(true);
    const past = await heldAcross(100_002);
    expect(past.sink.text).toBe(resync('unavailable', 'e0', 'e100002'));
    expect(past.b.stats().gaps.unavailable).toBe(1);
    // It stops collecting one past the bound (enough to know it is past): memory stays bounded.
    expect([within.collected, past.collected]).toEqual([100_000, 100_001]);
    // 200 001 entries applied: a few seconds on a busy machine.
  }, 30_000);
});

describe('a client that saw more than this hub has applied', () => {
  /** Hub A at e1..e4, hub B held at position 2, and a client that saw e4 on A arriving at B. */
  async function ahead() {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const b = hubOn(log);
    send(a, 1, 2);
    b.bp.held = true;
    send(a, 3, 4);
    const client = open(b.h, { lastEventId: 'e4' });
    await turn();
    return { log, a, b: b.h, bp: b.bp, errors: b.errors, ...client };
  }

  it('waits until this hub reaches the position it saw, then reads on from there: the entries after it, none before', async () => {
    const { a, bp, sink } = await ahead();
    // The log answers from 4 > upTo 2: nothing to send yet.
    expect(bp.replays.map((r) => [r.after, r.upTo])).toEqual([['e4', 2]]);
    bp.held = false;
    bp.catchUp(3);
    await turn();
    expect(bp.replays).toHaveLength(1);
    send(a, 5);
    // B applies e4 (the wait ends) and e5 in one go: e5 is collected while the second read is out.
    expect(bp.replays.map((r) => [r.after, r.upTo])).toEqual([
      ['e4', 2],
      [4, 4],
    ]);
    await turn();
    expect(seen(sink)).toEqual(['e5']);
    send(a, 6);
    await turn();
    expect(seen(sink)).toEqual(['e5', 'e6']);
  });

  it('reads on at once when this hub reached the position while the log was answering', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp } = hubOn(log);
    send(a, 1, 2);
    bp.held = true;
    send(a, 3, 4);
    bp.holdReplays = true;
    const { sink } = open(b, { lastEventId: 'e4' });
    bp.held = false;
    bp.catchUp(); // B applies e3, e4 while the log's answer (from 4, up to 2) is out
    bp.replays[0]!.release();
    await turn();
    // B is already at 4: the second read goes out now, not at the next entry or after 10 s.
    expect(bp.replays.map((r) => [r.after, r.upTo])).toEqual([
      ['e4', 2],
      [4, 4],
    ]);
    bp.replays[1]!.release();
    await turn();
    send(a, 5);
    await turn();
    expect(seen(sink)).toEqual(['e5']);
  });

  it('stops waiting, without reading again, for a client that left meanwhile', async () => {
    const { bp, sink, b } = await ahead();
    sink.close();
    bp.held = false;
    bp.catchUp();
    await turn();
    expect(bp.replays).toHaveLength(1);
    expect(sink.writes).toEqual([]);
    expect(taps(b).size).toBe(0);
  });

  it('is woken by a reset to a position below the one it waits for (a new epoch starting over)', async () => {
    const { b, bp, sink } = await ahead();
    bp.handler.reset('epoch', 0);
    await turn();
    expect(sink.text).toBe(resync('unavailable', 'e4', 'e2') + resync('backplane-epoch', null, 'e2'));
    expect(bp.replays).toHaveLength(1);
    expect(taps(b).size).toBe(0);
  });

  it('is woken by advance() as well as by an entry', async () => {
    const { bp, sink, a } = await ahead();
    // The log says B is at 4 with nothing to deliver (as Redis does when a hub joins): B skips e3, e4.
    bp.handler.advance(4);
    bp.cursor = 4;
    bp.held = false;
    expect(bp.replays.map((r) => [r.after, r.upTo])).toEqual([
      ['e4', 2],
      [4, 4],
    ]);
    await turn();
    send(a, 5);
    await turn();
    expect(seen(sink)).toEqual(['e5']);
  });

  it('turns a reset during the wait into an unavailable gap, after the reset notice every client gets', async () => {
    const { b, bp, sink, a, errors } = await ahead();
    bp.held = false;
    bp.reset('behind');
    await turn();
    expect(bp.replays).toHaveLength(1);
    expect(sink.text).toBe(resync('unavailable', 'e4', 'e2') + resync('backplane-behind', null, 'e2'));
    expect(b.stats().gaps).toMatchObject({ unavailable: 1, 'backplane-behind': 1 });
    expect(errors).toEqual([]);
    send(a, 5);
    await turn();
    expect(seen(sink)).toEqual(['resync:unavailable', 'resync:backplane-behind', 'e5']);
  });

  it('gives up after 10 s with an unavailable gap, then goes live', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick', 'setImmediate'] });
    const { b, bp, sink, a } = await ahead();
    await jest.advanceTimersByTimeAsync(9_999);
    expect(sink.text).toBe('');
    await jest.advanceTimersByTimeAsync(1);
    await turn();
    expect(sink.text).toBe(resync('unavailable', 'e4', 'e2'));
    expect(b.stats().gaps.unavailable).toBe(1);
    // The notice moved the client to B's head (e2): it is live from there, with no second read.
    bp.held = false;
    send(a, 5);
    await turn();
    expect(bp.replays).toHaveLength(1);
    expect(seen(sink)).toEqual(['resync:unavailable', 'e3', 'e4', 'e5']);
  });
});

describe('a shared replay that fails or cannot be served', () => {
  it('reports a rejected replay, tells the client to resync, then goes live', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp, errors } = hubOn(log);
    send(a, 1, 2);
    bp.holdReplays = true;
    const { sink } = open(b, { lastEventId: 'e0' });
    send(a, 3);
    const err = new Error('log unreachable');
    bp.last.fail(err);
    await turn();
    expect(errors).toEqual([err]);
    // The notice moves the client to the head, past what was applied while the replay was out.
    expect(sink.text).toBe(resync('unavailable', 'e0', 'e3'));
    send(a, 4);
    await turn();
    expect(seen(sink)).toEqual(['resync:unavailable', 'e4']);
    expect(b.stats().gaps).toMatchObject({ unavailable: 1, 'unknown-id': 0, expired: 0 });
    expect(taps(b).size).toBe(0);
  });

  it('tells the client to resync for an id the log does not know, and for one older than it keeps, counting each reason', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    send(a, 1, 2, 3);
    // B joins after e1..e3, so its cache holds none of them: every id goes to the log.
    const { h: b, errors } = hubOn(log, { retry: 2000 });
    send(a, 4);
    log.keptAfter = 2;
    const unknown = open(b, { lastEventId: 'nope' }).sink;
    const expired = open(b, { lastEventId: 'e1' }).sink;
    const kept = open(b, { lastEventId: 'e2' }).sink;
    await turn();
    expect(unknown.text).toBe('retry: 2000\n' + resync('unknown-id', 'nope', 'e4'));
    expect(expired.text).toBe('retry: 2000\n' + resync('expired', 'e1', 'e4'));
    expect(kept.text).toBe('retry: 2000\nid: e3\ndata: d3\n\nid: e4\ndata: d4\n\n');
    expect(b.stats().gaps).toMatchObject({ 'unknown-id': 1, expired: 1, unavailable: 0 });
    expect(errors).toEqual([]);
    send(a, 5);
    await turn();
    expect([seen(unknown), seen(expired), seen(kept)]).toEqual([
      ['resync:unknown-id', 'e5'],
      ['resync:expired', 'e5'],
      ['e3', 'e4', 'e5'],
    ]);
  });

  it('gives initMessages the gap a shared replay could not fill', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const calls: [string, string | undefined][] = [];
    const { h: b } = hubOn(log, {
      initMessages: (last, head) => {
        calls.push([last, head]);
        return [{ data: 'state' }];
      },
    });
    send(a, 1);
    const { sink } = open(b, { lastEventId: 'gone' });
    await turn();
    expect(calls).toEqual([['gone', 'e1']]);
    expect(sink.text).toBe('id: e1\ndata: state\n\n');
    expect(b.stats().gaps).toMatchObject({ 'unknown-id': 1, filled: 1 });
  });
});

describe('a client that leaves while its shared replay is held', () => {
  it('gets nothing once it has left, and nothing throws', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp, errors } = hubOn(log);
    send(a, 1, 2);
    bp.holdReplays = true;
    const { sink, client } = open(b, { lastEventId: 'e0' });
    const other = open(b, { lastEventId: 'e0' });
    send(a, 3);
    sink.close();
    send(a, 4);
    bp.replays[0]!.release();
    bp.replays[1]!.fail(new Error('late'));
    await turn();
    send(a, 5);
    await turn();
    expect(sink.writes).toEqual([]);
    expect(client.bufferedBytes).toBe(0);
    // The one still there got its replay: the two calls were independent.
    expect(seen(other.sink)).toEqual(['resync:unavailable', 'e5']);
    expect(errors).toEqual([new Error('late')]);
    expect(b.stats().connections).toBe(1);
    // The log's answer for the one that left (e0 is unknown) is not taken as its gap.
    expect(b.stats().gaps).toMatchObject({ 'unknown-id': 0, unavailable: 1 });
    expect(taps(b).size).toBe(0);
  });

  it('gets nothing when the hub closes meanwhile, whether the answer then is entries, a gap or a failure', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp, errors } = hubOn(log);
    send(a, 1, 2);
    bp.holdReplays = true;
    const sinks = ['x1', 'x2', 'x3'].map((lastEventId) => open(b, { lastEventId }).sink);
    await b.close();
    send(a, 3);
    bp.replays[0]!.answer({ kind: 'replay', from: 0, entries: log.entries.slice(0, 2) });
    bp.replays[1]!.answer({ kind: 'gap', reason: 'expired' });
    const err = new Error('late failure');
    bp.replays[2]!.fail(err);
    await turn();
    expect(sinks.map((s) => [s.writes, s.ended])).toEqual([1, 2, 3].map(() => [[], true]));
    // The failure is still reported; no gap is counted for streams that are gone.
    expect(errors).toEqual([err]);
    expect(b.stats().gaps).toMatchObject({ expired: 0, unavailable: 0 });
    expect(b.stats().eventsReplayed).toBe(0);
  });
});

describe('a fan-out that re-enters the hub', () => {
  // Delivery's two guards, reached only when an app handler runs while an entry is being handed out.
  it('gets an entry once when the client connects while that very entry is being handed out', async () => {
    // An app handler run during the fan-out (here: 'evict') connects a stream whose replay from the
    // cache already holds the entry being handed out; the fan-out then reaches the new stream too.
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b } = hubOn(log, { maxBufferedBytes: 100 });
    const slow = open(b).sink;
    send(a, 1);
    await turn();
    slow.accept = false;
    send(a, 2);
    await turn();
    let late: TestSink | undefined;
    b.on('evict', () => {
      late = open(b, { lastEventId: 'e1' }).sink;
    });
    a.broadcast({ id: 'e3', data: 'x'.repeat(100) });
    await turn();
    expect(seen(late!)).toEqual(['e2', 'e3']);
  });

  it('queues nothing for a stream that left while an entry for several channels was being handed out', async () => {
    // An entry for two channels goes to a copy of its recipients: one that leaves during the fan-out
    // is still in the copy, and must get nothing, not even a write into its ended transport.
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, errors } = hubOn(log, { maxBufferedBytes: 1000 });
    const slow = open(b, { channels: ['a', 'b'] }).sink;
    const small = open(b, { channels: ['a'], clientId: 'small' });
    const big = open(b, { channels: ['b'], clientId: 'big' });
    a.broadcast({ id: 'e1', data: 'x', channel: 'a' });
    await turn();
    slow.accept = false;
    a.broadcast({ id: 'e2', data: 'y', channel: 'a' });
    await turn();
    b.on('evict', () => {
      b.disconnect('small');
      b.disconnect('big');
    });
    // Past maxBufferedBytes for the slow one; past the 64 KiB coalescing limit (written at once) too.
    a.broadcast({ id: 'e3', data: 'z'.repeat(70_000), channel: ['a', 'b'] });
    await turn();
    expect(seen(small.sink)).toEqual(['e1', 'e2']);
    expect(big.sink.writes).toEqual([]);
    expect([small.client.bufferedBytes, big.client.bufferedBytes]).toEqual([0, 0]);
    expect(errors).toEqual([]);
  });
});

describe('the shared log losing history (reset)', () => {
  it('tells every connected client to resync with the epoch reason, once per client, and drops the local cache', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp } = hubOn(log);
    const onB = [open(b).sink, open(b, { channels: ['x'] }).sink];
    const onA = open(a).sink;
    send(a, 1, 2);
    await turn();
    log.newEpoch();
    await turn();
    const notice = resync('backplane-epoch', null, 'e2');
    expect(onB.map((s) => s.text)).toEqual([1, 2].map(() => 'id: e1\ndata: d1\n\nid: e2\ndata: d2\n\n' + notice));
    expect(onA.text.endsWith(notice)).toBe(true);
    expect([b.stats().gaps['backplane-epoch'], a.stats().gaps['backplane-epoch']]).toEqual([2, 1]);
    send(a, 3);
    // e1 was in B's cache: now B asks the log, which no longer knows it.
    const late = open(b, { lastEventId: 'e1' }).sink;
    await turn();
    expect(bp.replays.map((r) => [r.after, r.upTo])).toEqual([['e1', 3]]);
    expect(late.text).toBe(resync('unknown-id', 'e1', 'e3'));
    expect(seen(onB[0]!)).toEqual(['e1', 'e2', 'resync:backplane-epoch', 'e3']);
  });

  it('after falling behind, tells its clients and serves a later resume from the shared log, which still has it', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp } = hubOn(log);
    const onB = open(b).sink;
    send(a, 1, 2);
    bp.held = true;
    send(a, 3, 4);
    bp.held = false;
    bp.reset('behind');
    send(a, 5);
    await turn();
    expect(seen(onB)).toEqual(['e1', 'e2', 'resync:backplane-behind', 'e5']);
    expect(onB.text).toContain(resync('backplane-behind', null, 'e2'));
    expect(b.stats().gaps['backplane-behind']).toBe(1);
    const late = open(b, { lastEventId: 'e1' }).sink;
    await turn();
    expect(bp.replays.map((r) => r.after)).toEqual(['e1']);
    expect(seen(late)).toEqual(['e2', 'e3', 'e4', 'e5']);
  });

  it('no longer takes a client at this hub’s head as up to date: the shared log serves what the hub skipped', async () => {
    // Failed before the fix in replay.ts (plan): B's head e2 was still taken as "nothing to send",
    // so a client that saw e2 on A silently missed e3 and e4, which the shared log still had.
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp } = hubOn(log);
    send(a, 1, 2);
    bp.held = true;
    send(a, 3, 4);
    bp.held = false;
    bp.reset('behind');
    expect(b.lastEventId).toBe('e2');
    const late = open(b, { lastEventId: 'e2' }).sink;
    await turn();
    send(a, 5);
    await turn();
    expect(bp.replays.map((r) => [r.after, r.upTo])).toEqual([['e2', 4]]);
    expect(seen(late)).toEqual(ids(3, 5));
  });

  it('makes a replay held across it a gap (expired), after the notice the client got meanwhile', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp } = hubOn(log);
    send(a, 1, 2);
    bp.holdReplays = true;
    const { sink } = open(b, { lastEventId: 'e1x' });
    log.newEpoch();
    send(a, 3);
    bp.last.release();
    await turn();
    expect(sink.text).toBe(resync('expired', 'e1x', 'e3') + resync('backplane-epoch', null, 'e2'));
    expect(b.stats().gaps).toMatchObject({ expired: 1, 'backplane-epoch': 1 });
    send(a, 4);
    await turn();
    expect(seen(sink)).toEqual(['resync:expired', 'resync:backplane-epoch', 'e4']);
  });

  it('does nothing once the hub is closed', async () => {
    const log = new MemoryLog();
    const { h: b, bp } = hubOn(log);
    await b.close();
    bp.handler.reset('epoch', 9);
    bp.handler.deliver({ uid: 'u', id: 'late', data: 'x', json: false, pos: 10 });
    expect(b.stats().gaps['backplane-epoch']).toBe(0);
    expect([b.stats().events, b.lastEventId]).toEqual([0, undefined]);
  });
});

describe('the link state', () => {
  function recorder(): { logger: HubLogger; lines: [string, string, Record<string, unknown> | undefined][] } {
    const lines: [string, string, Record<string, unknown> | undefined][] = [];
    const logger: HubLogger = {
      info: (m, d) => lines.push(['info', m, d]),
      warn: (m, d) => lines.push(['warn', m, d]),
    };
    return { logger, lines };
  }

  it('is connecting, and not ready, until the backplane says it is connected', () => {
    const log = new MemoryLog();
    const { logger, lines } = recorder();
    const { h, bp } = hubOn(log, { logger }, false);
    expect(h.backplaneState).toBe('connecting');
    expect(h.stats().backplane).toEqual({ state: 'connecting', outbox: 0, behind: 0 });
    expect(h.health()).toEqual({ ready: false, live: true, state: 'open', backplane: 'connecting', reasons: ['backplane connecting'] });
    bp.join();
    expect(h.health()).toEqual({ ready: true, live: true, state: 'open', backplane: 'connected', reasons: [] });
    expect(lines).toEqual([['info', 'ssehub: backplane connected', { was: 'connecting' }]]);
    bp.handler.state('connected');
    expect(lines).toHaveLength(1);
  });

  it('stays ready through a short outage, is not ready past maxOutage, counts from the outage’s start until connected again', async () => {
    jest.useFakeTimers({ now: 1_000_000, doNotFake: ['queueMicrotask', 'nextTick', 'setImmediate'] });
    const log = new MemoryLog();
    const { logger, lines } = recorder();
    const { h, bp } = hubOn(log, { logger });
    const err = new Error('down');
    bp.handler.state('outage', { error: err, outbox: 2 });
    bp.handler.state('outage', { error: err, outbox: 3 });
    expect(h.backplaneState).toBe('outage');
    expect(h.stats().backplane?.state).toBe('outage');
    jest.advanceTimersByTime(20_000);
    bp.handler.state('catching-up', { outbox: 1 });
    jest.advanceTimersByTime(5_000);
    bp.handler.state('outage', { error: err });
    jest.advanceTimersByTime(5_000);
    // 30 s since the first outage began: not more than maxOutage yet.
    expect(h.health().ready).toBe(true);
    jest.advanceTimersByTime(1);
    expect(h.health()).toEqual({ ready: false, live: true, state: 'open', backplane: 'outage', reasons: ['backplane unreachable for 30 s'] });
    expect(h.health({ maxOutage: 40_000 }).ready).toBe(true);
    bp.handler.state('connected');
    expect(h.health()).toEqual({ ready: true, live: true, state: 'open', backplane: 'connected', reasons: [] });
    jest.advanceTimersByTime(60_000);
    expect(h.health({ maxOutage: 0 }).ready).toBe(true);
    expect(lines).toEqual([
      ['info', 'ssehub: backplane connected', { was: 'connecting' }],
      ['warn', 'ssehub: backplane unreachable; broadcasts wait until it returns', { error: err, outbox: 2, was: 'connected' }],
      ['info', 'ssehub: backplane catching-up', { outbox: 1, was: 'outage' }],
      ['warn', 'ssehub: backplane unreachable; broadcasts wait until it returns', { error: err, was: 'catching-up' }],
      ['info', 'ssehub: backplane connected', { was: 'outage' }],
    ]);
  });

  it('reports a closed hub as neither ready nor live, and hands backplane errors to onError', async () => {
    const log = new MemoryLog();
    const { h, bp, errors } = hubOn(log);
    const err = new Error('outbox full');
    bp.handler.error(err);
    expect(errors).toEqual([err]);
    await h.close();
    expect(h.health()).toEqual({ ready: false, live: false, state: 'closed', backplane: 'connected', reasons: ['hub closed'] });
  });

  it('shows how far behind the log this hub is, as the backplane says', () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp } = hubOn(log);
    bp.held = true;
    send(a, 1, 2, 3);
    expect(b.stats().backplane).toEqual({ state: 'connected', outbox: 0, behind: 3 });
    expect(a.stats().backplane).toEqual({ state: 'connected', outbox: 0, behind: 0 });
  });
});

describe('channels and client ids across hubs', () => {
  /** Publishes one of each kind from `a`: global, per channel, two channels, and to one client id. */
  function publishMix(a: Hub): void {
    a.broadcast({ id: 'g', data: 'all' });
    a.broadcast({ id: 'n', data: 'news', channel: 'news' });
    a.broadcast({ id: 's', data: 'sport', channel: 'sport' });
    a.broadcast({ id: 'ns', data: 'both', channel: ['news', 'sport'] });
    a.broadcastTo('c7', { id: 't', data: 'private' });
  }
  const who: [string, { channels?: string[]; clientId?: string }][] = [
    ['plain', {}],
    ['news', { channels: ['news'] }],
    ['sport', { channels: ['sport'] }],
    ['both', { channels: ['news', 'sport'] }],
    ['c7', { clientId: 'c7' }],
    ['c8', { clientId: 'c8', channels: ['news'] }],
  ];
  const expected = {
    plain: ['g'],
    news: ['g', 'n', 'ns'],
    sport: ['g', 's', 'ns'],
    both: ['g', 'n', 's', 'ns'],
    c7: ['g', 't'],
    c8: ['g', 'n', 'ns'],
  };

  it('delivers live only to the subscribers and the addressed client, on the other hub', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const b = hubOn(log).h;
    const sinks = who.map(([name, params]) => [name, open(b, params).sink] as const);
    publishMix(a);
    await turn();
    expect(Object.fromEntries(sinks.map(([name, s]) => [name, seen(s)]))).toEqual(expected);
  });

  it('replays from the shared log, and adds what was applied meanwhile, only to the subscribers and the addressed client', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    a.broadcast({ id: 'start', data: '0' });
    const { h: b, bp } = hubOn(log);
    publishMix(a);
    bp.holdReplays = true;
    const sinks = who.map(([name, params]) => [name, open(b, { ...params, lastEventId: 'start' }).sink] as const);
    // Applied while the replays are held: filtered the same way.
    a.broadcastTo('c8', { id: 't8', data: 'late', channel: 'news' });
    a.broadcast({ id: 'n2', data: 'late news', channel: 'news' });
    for (const r of bp.replays) r.release();
    await turn();
    expect(Object.fromEntries(sinks.map(([name, s]) => [name, seen(s)]))).toEqual({
      ...expected,
      news: [...expected.news, 'n2'],
      both: [...expected.both, 'n2'],
      c8: [...expected.c8, 't8', 'n2'],
    });
  });
});

describe('a client with no Last-Event-ID on a replayAll hub', () => {
  // Both failed before the fix in replay.ts (plan) and shared-log.ts (gap): the cache's entries went
  // into the prelude and the shared replay added the same entries again; a failed shared replay
  // dropped what was applied while it was out.
  it('gets the shared history once, then what was applied meanwhile, then live', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    send(a, 1);
    const { h: b, bp } = hubOn(log, { replayAll: true });
    send(a, 2, 3);
    bp.holdReplays = true;
    const { sink } = open(b);
    expect(bp.replays.map((r) => [r.after, r.upTo])).toEqual([[undefined, 3]]);
    send(a, 4);
    bp.last.release();
    await turn();
    send(a, 5);
    await turn();
    expect(seen(sink)).toEqual(ids(1, 5));
    expect(b.stats().eventsReplayed).toBe(3);
  });

  it('gets this hub’s cache, with what was applied meanwhile, when the shared replay fails', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    send(a, 1);
    const { h: b, bp, errors } = hubOn(log, { replayAll: true });
    b.broadcast({ id: 'e2', data: 'd2', channel: 'other' });
    send(a, 3);
    bp.holdReplays = true;
    const { sink } = open(b);
    send(a, 4);
    const err = new Error('log unreachable');
    bp.last.fail(err);
    await turn();
    send(a, 5);
    await turn();
    // e1 came before B joined; e2 is for a channel this client is not on.
    expect(seen(sink)).toEqual(['e3', 'e4', 'e5']);
    expect(errors).toEqual([err]);
    expect(b.stats().eventsReplayed).toBe(2);
  });
});

describe('closing', () => {
  it('closes the backplane once, and applies nothing the backplane still hands over', async () => {
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp } = hubOn(log);
    const close = jest.spyOn(bp, 'close');
    const got: string[] = [];
    void (async () => {
      for await (const m of b.listen()) got.push(m.id);
    })();
    send(a, 1);
    await b.close();
    await b.close();
    expect([close.mock.calls.length, bp.closed]).toEqual([1, true]);
    send(a, 2);
    await turn();
    expect([b.stats().events, b.lastEventId, got]).toEqual([1, 'e1', ['e1']]);
  });

  it('clears the wait of a client ahead of the hub, so no timer outlives it', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick', 'setImmediate'] });
    const log = new MemoryLog();
    const a = hubOn(log).h;
    const { h: b, bp, errors } = hubOn(log);
    send(a, 1);
    bp.held = true;
    send(a, 2);
    const { sink } = open(b, { lastEventId: 'e2' });
    await turn();
    // The 10 s wait for position 2 is the one timer (heartbeat off).
    expect(jest.getTimerCount()).toBe(1);
    await b.close();
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(20_000);
    expect(sink.writes).toEqual([]);
    expect(errors).toEqual([]);
  });
});
