import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Backplane, BackplaneEntry, BackplaneHandler, BackplaneRecord, BackplaneReplay } from '@ssehub/core';
import { fromFields, posOf, toFields } from './codec';
import { PUBLISH, STATE } from './scripts';

/** Options of {@link redisBackplane}. Every one is optional. */
export interface RedisBackplaneOptions {
  /** The Redis server. Default: `'redis://127.0.0.1:6379'`. */
  url?: string;
  /**
   * ioredis options merged over the backplane's own (which turn off ioredis's unbounded offline
   * queue and command resends: the backplane keeps its own bounded outbox). Default: none.
   */
  redis?: RedisOptions;
  /** Prefix of the four keys; hubs with the same prefix form one hub. Default: `'ssehub'`. */
  prefix?: string;
  /** Broadcasts the shared history keeps in Redis (stream MAXLEN, trimmed exactly). Default: 10000. */
  maxLen?: number;
  /** Entries per XREAD and per XRANGE page. Default: 500. */
  batch?: number;
  /** Broadcasts kept for resending while Redis is unreachable; past it the oldest are dropped. Default: 10000. */
  maxOutbox?: number;
  /** Milliseconds one XREAD blocks waiting for new entries. Default: 5000. */
  block?: number;
  /**
   * Milliseconds a command (or an XREAD past its block time) may take before the connection is
   * deemed hung and is reset; a broadcast whose publish times out is delivered locally. Default: 2000.
   */
  timeout?: number;
}

/** The Redis server a backplane connects to when given no `url`. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

interface Queued {
  readonly record: BackplaneRecord;
  /** Already delivered by this hub (Redis was unreachable when it was published). */
  local: boolean;
}

type PublishReply = [epoch: string, pos: number];
type StateReply = [epoch: string, head: number, oldest: number];

interface ScriptCommands {
  ssehubPublish(...args: (string | number)[]): Promise<PublishReply>;
  ssehubState(...args: (string | number)[]): Promise<StateReply>;
}

/**
 * A {@link Backplane} on Redis: one stream is the shared, ordered history; every hub tails it with
 * a blocking XREAD and delivers what it reads, in stream order. Created by {@link redisBackplane}.
 */
export class RedisBackplane implements Backplane {
  private handler: BackplaneHandler | undefined;
  private readonly cmd: Redis & ScriptCommands;
  private readonly reader: Redis & ScriptCommands;
  private readonly keys: [log: string, index: string, counter: string, epoch: string];
  private readonly maxLen: number;
  private readonly batch: number;
  private readonly maxOutbox: number;
  private readonly block: number;
  private readonly timeout: number;
  /** This data set's token; a different one after a reconnect means Redis lost the history. */
  private epoch: string | undefined;
  /** Position of the last entry read (and delivered) from the stream. */
  private lastPos = 0;
  /** The reader is connected and has checked the epoch since it last (re)connected. */
  private synced = false;
  private closed = false;
  private flushing = false;
  /** Broadcasts waiting for Redis, in publish order; bounded by `maxOutbox`. */
  private outbox: Queued[] = [];
  /** Uids sent and not answered yet: a failure then means deliver here, unless the reader saw it. */
  private readonly inFlight = new Set<string>();
  /** Uids delivered here while Redis was unreachable: when they come back, they only advance. */
  private readonly deliveredLocally = new Set<string>();
  /** Reported once per outage, so a down Redis does not flood `onError`. */
  private reportedDown = false;
  private readonly firstSync: Promise<void>;
  private resolveFirstSync!: () => void;
  private loop: Promise<void> | undefined;

  constructor(options: RedisBackplaneOptions = {}) {
    const {
      url = DEFAULT_REDIS_URL,
      redis,
      prefix = 'ssehub',
      maxLen = 10_000,
      batch = 500,
      maxOutbox = 10_000,
      block = 5000,
      timeout = 2000,
    } = options;
    for (const [name, v] of Object.entries({ maxLen, batch, maxOutbox, block, timeout })) {
      if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`ssehub/redis: option ${name} must be an integer >= 1`);
    }
    if (typeof prefix !== 'string' || prefix === '') throw new TypeError('ssehub/redis: option prefix must be a non-empty string');
    // The hash tag keeps the four keys in one slot, so the scripts also run on Redis Cluster.
    const tag = `{${prefix}}`;
    this.keys = [`${tag}:log`, `${tag}:index`, `${tag}:pos`, `${tag}:epoch`];
    this.maxLen = maxLen;
    this.batch = batch;
    this.maxOutbox = maxOutbox;
    this.block = block;
    this.timeout = timeout;
    const base: RedisOptions = {
      lazyConnect: true,
      // Fail fast while disconnected: the outbox, not ioredis's unbounded queue, holds what waits.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
      connectTimeout: timeout,
      ...redis,
    };
    // Publishes made in one tick go out in one write: the socket write, not Redis, is the cost.
    this.cmd = new Redis(url, { commandTimeout: timeout, enableAutoPipelining: true, ...base }) as Redis & ScriptCommands;
    this.reader = new Redis(url, { ...base, commandTimeout: undefined }) as Redis & ScriptCommands;
    for (const r of [this.cmd, this.reader]) {
      r.defineCommand('ssehubPublish', { numberOfKeys: 4, lua: PUBLISH });
      r.defineCommand('ssehubState', { numberOfKeys: 4, lua: STATE });
      // ioredis emits every connection error; they are reported once per outage by the read loop.
      r.on('error', () => undefined);
    }
    this.reader.on('close', () => {
      this.synced = false;
    });
    this.cmd.on('ready', () => void this.flush());
    this.firstSync = new Promise((resolve) => (this.resolveFirstSync = resolve));
  }

  /** Resolves once the backplane has reached Redis and joined the shared sequence. */
  ready(): Promise<void> {
    return this.firstSync;
  }

  /** True while both connections are up and the reader is in step with the shared sequence. */
  get connected(): boolean {
    return this.synced && this.cmd.status === 'ready';
  }

  /** Broadcasts waiting for Redis (delivered here or not yet). */
  get outboxSize(): number {
    return this.outbox.length;
  }

  /** Called by `createHub`: connects both Redis connections and starts reading the stream. */
  attach(handler: BackplaneHandler): void {
    if (this.handler) throw new TypeError('ssehub/redis: a backplane serves one hub; create one per hub');
    this.handler = handler;
    this.cmd.connect().catch(() => undefined);
    this.reader.connect().catch(() => undefined);
    this.loop = this.readLoop();
  }

  /** Appends a broadcast to the stream; while Redis is unreachable, delivers it here and keeps it in the outbox. */
  publish(record: BackplaneRecord): void {
    if (this.closed) return;
    if (!this.connected) {
      this.deliverHere(record);
      return;
    }
    if (this.outbox.length) {
      // Keep publish order behind what is still waiting to be resent.
      this.push({ record, local: false });
      void this.flush();
      return;
    }
    this.send(record, false).then(undefined, (err: unknown) => {
      if (this.inFlight.delete(record.uid)) this.deliverHere(record);
      this.resetIfHung(this.cmd, err);
    });
  }

  /** Reads the stream after an id (via the index) or a position, up to `upTo`, in `batch`-sized pages. */
  async replay(after: string | number | undefined, upTo: number): Promise<BackplaneReplay> {
    // A client that arrives while the backplane is still joining waits for it (up to `timeout`).
    if (this.epoch === undefined) await Promise.race([this.firstSync, sleep(this.timeout)]);
    let from: number;
    if (typeof after === 'string') {
      const pos = await this.cmd.hget(this.keys[1], `i:${after}`);
      if (pos === null) return { kind: 'gap', reason: 'unknown-id' };
      from = Number(pos);
    } else if (typeof after === 'number') {
      from = after;
    } else {
      // From the oldest kept: start right before the first entry.
      const first = await this.cmd.xrange(this.keys[0], '-', '+', 'COUNT', 1);
      from = first[0] ? posOf(first[0][0]) - 1 : upTo;
    }
    const entries: BackplaneEntry[] = [];
    if (from >= upTo) return { kind: 'replay', from, entries };
    if (upTo - from > this.maxLen) return { kind: 'gap', reason: 'expired' };
    let next = from;
    while (next < upTo) {
      const page = await this.cmd.xrange(this.keys[0], `(${next}-0`, `${upTo}-0`, 'COUNT', this.batch);
      for (const [sid, fields] of page) {
        const pos = posOf(sid);
        // A hole means the entry was trimmed (or lost) while we read: never hand out a partial history.
        if (pos !== next + 1) return { kind: 'gap', reason: 'expired' };
        entries.push(fromFields(pos, fields));
        next = pos;
      }
      if (page.length < this.batch && next < upTo) return { kind: 'gap', reason: 'expired' };
    }
    return { kind: 'replay', from, entries };
  }

  /** Called by `hub.close()`: disconnects at once; broadcasts still in the outbox are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.resolveFirstSync();
    this.cmd.disconnect();
    this.reader.disconnect();
    await this.loop;
  }

  // ---- publishing ----------------------------------------------------------------------------

  private send(record: BackplaneRecord, resend: boolean): Promise<PublishReply> {
    this.inFlight.add(record.uid);
    const done = () => this.inFlight.delete(record.uid);
    return this.cmd
      .ssehubPublish(...this.keys, newEpoch(), this.maxLen, resend ? '1' : '0', ...toFields(record))
      .then((reply) => (done(), reply));
  }

  /** Redis is out of reach: this hub's clients get the broadcast now; other hubs once Redis is back. */
  private deliverHere(record: BackplaneRecord): void {
    this.deliveredLocally.add(record.uid);
    this.push({ record, local: true });
    this.handler!.deliver(record);
  }

  private push(q: Queued): void {
    this.outbox.push(q);
    if (this.outbox.length > this.maxOutbox) {
      const dropped = this.outbox.shift()!;
      this.deliveredLocally.delete(dropped.record.uid);
      this.handler!.error(new Error(`ssehub/redis: outbox full (${this.maxOutbox}); dropped broadcast ${dropped.record.id}`));
    }
  }

  /** Resends the outbox in order, in pipelined chunks, while Redis is reachable. */
  private async flush(): Promise<void> {
    if (this.flushing || this.closed) return;
    this.flushing = true;
    try {
      while (this.outbox.length && this.connected) {
        const chunk = this.outbox.slice(0, this.batch);
        const results = await Promise.allSettled(chunk.map((q) => this.send(q.record, true)));
        const failed = new Set<Queued>();
        results.forEach((r, i) => {
          const q = chunk[i]!;
          // Failed and not seen by the reader: it stays queued, and is delivered here if it was not yet.
          if (r.status === 'rejected') this.resetIfHung(this.cmd, r.reason);
          if (r.status === 'rejected' && this.inFlight.delete(q.record.uid)) {
            failed.add(q);
            if (!q.local) {
              q.local = true;
              this.deliveredLocally.add(q.record.uid);
              this.handler!.deliver(q.record);
            }
          }
        });
        const done = new Set(chunk.filter((q) => !failed.has(q)));
        this.outbox = this.outbox.filter((q) => !done.has(q));
        if (failed.size) break;
      }
    } finally {
      this.flushing = false;
    }
  }

  // ---- reading -------------------------------------------------------------------------------

  private async readLoop(): Promise<void> {
    while (!this.closed) {
      try {
        if (!this.synced) await this.sync();
        const read = this.reader.call(
          'XREAD', 'COUNT', this.batch, 'BLOCK', this.block, 'STREAMS', this.keys[0], `${this.lastPos}-0`,
        ) as Promise<[string, [string, string[]][]][] | null>;
        // A server that stopped answering (not closed) would block the reader forever: reset it.
        const watchdog = setTimeout(() => this.reader.disconnect(true), this.block + this.timeout);
        const reply = await read.finally(() => clearTimeout(watchdog));
        if (this.closed || !this.synced) continue;
        if (reply) await this.onBatch(reply[0]![1]);
        // Quiet for a whole block: check that the data set is still the one this hub reads (a FLUSHALL
        // or an eviction restarts the positions below the cursor, where XREAD would never look).
        else this.adopt(await this.readState());
      } catch (err) {
        if (this.closed) return;
        this.synced = false;
        if (!this.reportedDown) {
          this.reportedDown = true;
          this.handler!.error(new Error('ssehub/redis: Redis unreachable; delivering locally until it returns', { cause: err }));
        }
        await this.untilReady();
        // A command error on a live connection (not a disconnect) must not spin.
        if (!this.closed) await sleep(100);
      }
    }
  }

  /** Joins the sequence after a (re)connect: the epoch tells whether Redis kept its data. */
  private async sync(): Promise<void> {
    await this.untilReady();
    if (this.closed) return;
    this.adopt(await this.readState());
    this.synced = true;
    this.reportedDown = false;
    this.resolveFirstSync();
    void this.flush();
  }

  private async readState(): Promise<StateReply> {
    const state = this.reader.ssehubState(...this.keys, newEpoch());
    const watchdog = setTimeout(() => this.reader.disconnect(true), this.timeout);
    return state.finally(() => clearTimeout(watchdog));
  }

  /** Compares where the log stands with where this hub is, and resets when they no longer fit. */
  private adopt([epoch, head, oldest]: StateReply): void {
    if (this.epoch === undefined) {
      // First contact: live from the head on; older entries are served by replay.
      this.lastPos = head;
      this.handler!.advance(head);
    } else if (epoch !== this.epoch || head < this.lastPos) {
      // Redis lost (or rolled back) its data: resume from the new data set's start.
      this.lastPos = epoch !== this.epoch ? Math.max(0, oldest - 1) : head;
      this.retainOutboxOnly();
      this.handler!.reset('epoch', this.lastPos);
    } else if (oldest > this.lastPos + 1) {
      // Further behind than the history: what was trimmed meanwhile is gone for this hub.
      this.lastPos = oldest - 1;
      this.handler!.reset('behind', this.lastPos);
    }
    this.epoch = epoch;
  }

  /** Delivers a batch in order; a hole in the positions is explained (reset, trim) before going on. */
  private async onBatch(entries: [string, string[]][]): Promise<void> {
    for (const [sid, fields] of entries) {
      const pos = posOf(sid);
      if (pos <= this.lastPos) continue;
      if (pos > this.lastPos + 1) {
        const before = this.lastPos;
        this.adopt(await this.readState());
        // A reset moved the cursor: read again from there.
        if (this.lastPos !== before || this.closed) return;
        this.lastPos = pos - 1;
        this.handler!.reset('behind', this.lastPos);
      }
      this.lastPos = pos;
      const entry = fromFields(pos, fields);
      this.inFlight.delete(entry.uid);
      if (this.deliveredLocally.delete(entry.uid)) this.handler!.advance(pos);
      else this.handler!.deliver(entry);
    }
  }

  /** A command that timed out means a hung server: reset the connection so everything fails over at once. */
  private resetIfHung(r: Redis, err: unknown): void {
    if (!this.closed && err instanceof Error && /timed out/i.test(err.message) && r.status === 'ready') r.disconnect(true);
  }

  /** After a reset only broadcasts still in the outbox can come back; forget the rest. */
  private retainOutboxOnly(): void {
    this.deliveredLocally.clear();
    for (const q of this.outbox) if (q.local) this.deliveredLocally.add(q.record.uid);
  }

  private untilReady(): Promise<void> {
    if (this.closed || this.reader.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.reader.off('ready', done);
        this.reader.off('end', done);
        clearInterval(poll);
        resolve();
      };
      this.reader.once('ready', done);
      this.reader.once('end', done);
      // close() disconnects without a later event in some states; poll the flag as a backstop.
      const poll = setInterval(() => this.closed && done(), 200);
      poll.unref?.();
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

function newEpoch(): string {
  return randomBytes(8).toString('hex');
}

/**
 * A Redis backplane for `createHub({ backplane })`: hubs in any number of processes that use the
 * same Redis and `prefix` act as one hub.
 * @example
 * const hub = createHub({ backplane: redisBackplane({ url: process.env.REDIS_URL }) });
 */
export function redisBackplane(options?: RedisBackplaneOptions): RedisBackplane {
  return new RedisBackplane(options);
}
