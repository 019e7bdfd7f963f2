import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { SseHubError, type Backplane, type BackplaneEntry, type BackplaneHandler, type BackplaneRecord, type BackplaneReplay, type BackplaneState } from '@ssehub/core';
import { fromFields, posOf, toFields } from './codec';
import { Outbox, type Queued } from './outbox';
import { PUBLISH, STATE } from './scripts';

/**
 * Options of {@link redisBackplane}. Every one is optional; a count that is not an integer >= 1, or
 * an empty `prefix`, throws a `TypeError` (as every bad option in ssehub does).
 */
export interface RedisBackplaneOptions {
  /** The Redis server. Default: `'redis://127.0.0.1:6379'`. */
  url?: string;
  /**
   * ioredis options merged over the backplane's own. Three are always the backplane's, since its
   * bounded outbox relies on them: no offline queue, no retries per request, no resend of unfulfilled
   * commands (a publish that fails must fail, at once, so that it is resent in order). Default: none.
   */
  redis?: RedisOptions;
  /** Prefix of the four keys; hubs with the same prefix form one hub. Default: `'ssehub'`. */
  prefix?: string;
  /** Broadcasts the shared history keeps in Redis (stream MAXLEN, trimmed exactly). Default: 10000. */
  maxLen?: number;
  /** Entries per XREAD and per XRANGE page, and publishes per resend window. Default: 500. */
  batch?: number;
  /**
   * Broadcasts kept waiting while Redis is unreachable; past it the oldest are dropped (and reported).
   * Nothing is delivered, on any hub, until Redis has ordered it. Default: 10000.
   */
  maxOutbox?: number;
  /** Milliseconds one XREAD blocks waiting for new entries. Default: 5000. */
  block?: number;
  /**
   * Milliseconds a command (or an XREAD past its block time) may take before the connection is
   * deemed hung and is reset: an outage, during which broadcasts wait in the outbox. Also how long
   * `close()` waits for the outbox to be published. Default: 2000.
   */
  timeout?: number;
}

/** The Redis server a backplane connects to when given no `url`. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

type PublishReply = [epoch: string, pos: number];
type StateReply = [epoch: string, head: number, oldest: number];

interface ScriptCommands {
  ssehubPublish(...args: (string | number)[]): Promise<PublishReply>;
  ssehubState(...args: (string | number)[]): Promise<StateReply>;
}

/** How long a broadcast that Redis refused (an error reply, such as OOM) waits before it is resent. */
const REFUSED_RETRY_MS = 1000;

/**
 * A {@link Backplane} on Redis: one stream is the shared, ordered history; every hub tails it with
 * a blocking XREAD and delivers what it reads, in stream order, its own broadcasts included. A
 * broadcast waits in this hub's outbox until Redis has it; while Redis is unreachable nothing is
 * delivered anywhere, and what waited is published in publish order once Redis is back. Created by
 * {@link redisBackplane}.
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
  /** `host:port` for error messages (never the credentials of the URL). */
  private readonly where: string;
  /** This data set's token; a different one after a reconnect means Redis lost the history. */
  private epoch: string | undefined;
  /** Position of the last entry read (and delivered) from the stream. */
  private lastPos = 0;
  /** The head of the stream when the reader last checked: it is in step once it has read that far. */
  private catchUpTo = 0;
  /** The reader is connected and has checked the epoch since it last (re)connected. */
  private synced = false;
  /** `close()` was called: nothing new is accepted; the outbox may still be flushing. */
  private closing = false;
  /** The connections are being released: everything stops. */
  private closed = false;
  private linkState: BackplaneState = 'connecting';
  /** This hub's broadcasts that Redis has not confirmed yet, in publish order. */
  private readonly outbox = new Outbox();
  /** A resend window is on its way (new broadcasts queue behind it). */
  private pumping = false;
  /** A publish on the command connection failed for a transport reason: send nothing until it is ready again. */
  private cmdBroken = false;
  /** Pending retry after Redis refused a broadcast. */
  private retry: ReturnType<typeof setTimeout> | undefined;
  /** Redis answers publishes with an error (OOM, READONLY...): an outage until one goes through. */
  private refusing = false;
  /** The last connection errors ioredis emitted, to say why an outage began. */
  private cmdError: unknown;
  private readerError: unknown;
  /** The current outage was reported through `onError` (once until the link is in step again). */
  private outageReported = false;
  /** Set when a watchdog resets the reader: Redis did not answer in time. */
  private readerHung: SseHubError | undefined;
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
    this.where = describeServer(url, redis);
    const base: RedisOptions = {
      lazyConnect: true,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
      connectTimeout: timeout,
      // How long a closing connection may linger (a closed one that is down would hold the process).
      disconnectTimeout: timeout,
      ...redis,
      // Fail fast while disconnected, and settle every pending command when a connection closes: the
      // outbox, not ioredis's unbounded queue, holds what waits, and resends it in order.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    };
    // Publishes made in one tick go out in one write: the socket write, not Redis, is the cost.
    this.cmd = new Redis(url, { commandTimeout: timeout, enableAutoPipelining: true, ...base }) as Redis & ScriptCommands;
    this.reader = new Redis(url, { ...base, commandTimeout: undefined }) as Redis & ScriptCommands;
    for (const r of [this.cmd, this.reader]) {
      r.defineCommand('ssehubPublish', { numberOfKeys: 4, lua: PUBLISH });
      r.defineCommand('ssehubState', { numberOfKeys: 4, lua: STATE });
    }
    // ioredis emits every connection error; an outage is reported once, when it begins.
    this.cmd.on('error', (err: unknown) => (this.cmdError = err));
    this.reader.on('error', (err: unknown) => (this.readerError = err));
    this.cmd.on('close', () => this.lost(this.cmdError ?? new SseHubError('the command connection closed', 'BACKPLANE_UNAVAILABLE')));
    this.reader.on('close', () => {
      this.synced = false;
      this.lost(this.readerHung ?? this.readerError ?? new SseHubError('the reading connection closed', 'BACKPLANE_UNAVAILABLE'));
    });
    this.cmd.on('ready', () => {
      this.cmdBroken = false;
      this.cmdError = undefined;
      this.kick();
      this.refresh();
    });
    this.firstSync = new Promise((resolve) => (this.resolveFirstSync = resolve));
  }

  /** Resolves once the backplane has reached Redis and joined the shared sequence. */
  ready(): Promise<void> {
    return this.firstSync;
  }

  /** True while both connections are up and the reader is in step with the shared sequence. */
  get connected(): boolean {
    return this.synced && this.cmdUp();
  }

  /**
   * The link to Redis: `'connecting'` until it first joins, `'connected'` while in step, `'outage'`
   * while Redis is unreachable or hung (broadcasts wait), `'catching-up'` while it publishes what
   * waited and reads what it missed. Every change is also reported to the hub (`hub.backplaneState`).
   */
  get state(): BackplaneState {
    return this.linkState;
  }

  /** This hub's broadcasts Redis has not confirmed yet: waiting, or on their way. */
  get outboxSize(): number {
    return this.outbox.size;
  }

  /**
   * For `hub.stats()`: `outbox` as {@link RedisBackplane.outboxSize}, and `behind`, the entries
   * between what this hub has read and the newest position it has seen (its own publishes' positions,
   * and the head each quiet block's check finds).
   */
  stats(): { outbox: number; behind: number } {
    return { outbox: this.outbox.size, behind: Math.max(0, this.catchUpTo - this.lastPos) };
  }

  /** Called by `createHub`: connects both Redis connections and starts reading the stream. */
  attach(handler: BackplaneHandler): void {
    if (this.handler) throw new TypeError('ssehub/redis: a backplane serves one hub; create one per hub');
    this.handler = handler;
    this.cmd.connect().catch(() => undefined);
    this.reader.connect().catch(() => undefined);
    this.loop = this.readLoop();
  }

  /**
   * Appends a broadcast to the stream; it is delivered, here too, when the reader reads it back. Sent
   * at once when nothing of this hub waits before it; otherwise it queues behind, in publish order
   * (while Redis is unreachable, or while what waited is being published).
   */
  publish(record: BackplaneRecord): void {
    if (this.closing) return;
    const direct = !this.pumping && this.outbox.waiting === 0 && this.canPublish();
    const q = this.outbox.add(record);
    if (direct) {
      void this.send(q);
    } else {
      this.bound();
      this.kick();
    }
  }

  /**
   * Reads the stream after an id (via the index) or a position, up to `upTo`, in `batch`-sized pages.
   * @throws SseHubError `BACKPLANE_REPLAY_FAILED` when a read fails (its `cause` is Redis's error); the
   *   hub reports it and tells the client to resync.
   */
  async replay(after: string | number | undefined, upTo: number): Promise<BackplaneReplay> {
    // A client that arrives while the backplane is still joining waits for it (up to `timeout`).
    if (this.epoch === undefined) await Promise.race([this.firstSync, sleep(this.timeout)]);
    // Redis is out of reach (the outage is reported already): the gap path, without a wait.
    if (!this.cmdUp()) return { kind: 'gap', reason: 'unavailable' };
    try {
      return await this.readHistory(after, upTo);
    } catch (err) {
      if (isTimeout(err)) this.transportFailed(err);
      const from = typeof after === 'string' ? `event ${JSON.stringify(after)}` : after === undefined ? 'the oldest entry' : `position ${after}`;
      throw new SseHubError(`ssehub/redis: replay after ${from} from Redis at ${this.where} failed: ${describe(err)}`, 'BACKPLANE_REPLAY_FAILED', {
        cause: err,
      });
    }
  }

  /**
   * Called by `hub.close()`. When Redis is reachable, the outbox gets up to `timeout` ms to be
   * published; what Redis has not confirmed then (everything, when it is unreachable) is dropped and
   * reported through the hub's `onError` (an `SseHubError`, `BACKPLANE_UNPUBLISHED`). Then both
   * connections close.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const until = Date.now() + this.timeout;
    while (this.outbox.size && this.canPublish() && Date.now() < until) await sleep(5);
    this.closed = true;
    clearTimeout(this.retry);
    const left = this.outbox.size;
    if (left) {
      const why = this.canPublish() ? `Redis did not confirm them within ${this.timeout} ms` : `Redis at ${this.where} is unreachable`;
      this.handler?.error(
        new SseHubError(
          `ssehub/redis: closed with ${left} broadcast${left === 1 ? '' : 's'} not published (${why}); they may never be delivered`,
          'BACKPLANE_UNPUBLISHED',
        ),
      );
    }
    this.resolveFirstSync();
    this.cmd.disconnect();
    this.reader.disconnect();
    await this.loop;
  }

  // ---- publishing ----------------------------------------------------------------------------

  /** The command connection can take publishes, and the reader has joined (so it reads them back). */
  private canPublish(): boolean {
    return this.epoch !== undefined && this.cmdUp();
  }

  private cmdUp(): boolean {
    return this.cmd.status === 'ready' && !this.cmdBroken;
  }

  /**
   * Publishes one broadcast. Every publish is idempotent (the script looks the uid up first), so a
   * resend of one that reached Redis, or a first attempt that Redis runs late, never appends it twice.
   */
  private send(q: Queued): Promise<void> {
    this.outbox.sending(q);
    return this.cmd.ssehubPublish(...this.keys, newEpoch(), this.maxLen, ...toFields(q.record)).then(
      ([epoch, pos]) => {
        this.outbox.done(q);
        // In step means having read back, among the rest, what this hub published.
        if (epoch === this.epoch) this.catchUpTo = Math.max(this.catchUpTo, pos);
        this.refusing = false;
        if (!this.outbox.sent) this.kick();
      },
      (err: unknown) => {
        this.outbox.failed(q);
        this.bound();
        if (isReplyError(err)) this.refused(err);
        else this.transportFailed(err);
      },
    );
  }

  /**
   * Publishes what waits, oldest first, in windows of `batch` pipelined publishes, once nothing is in
   * flight (so a failed publish is resent before anything published after it). Stops at a failure;
   * the connection's next `ready` (or the retry timer) starts it again.
   */
  private kick(): void {
    if (this.pumping || this.closed || this.retry || !this.outbox.waiting || this.outbox.sent || !this.canPublish()) return;
    this.pumping = true;
    this.refresh();
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      while (!this.closed && !this.retry && this.outbox.waiting && !this.outbox.sent && this.canPublish()) {
        await Promise.all(this.outbox.oldestWaiting(this.batch).map((q) => this.send(q)));
      }
    } finally {
      this.pumping = false;
      this.refresh();
    }
  }

  /** Past `maxOutbox` waiting broadcasts, the oldest go: reported (`BACKPLANE_OUTBOX_FULL`), and delivered nowhere. */
  private bound(): void {
    while (this.outbox.waiting > this.maxOutbox) {
      const q = this.outbox.dropOldestWaiting()!;
      this.handler?.error(
        new SseHubError(
          `ssehub/redis: outbox full (${this.maxOutbox} broadcasts waiting for Redis at ${this.where}); dropped the oldest, ${q.record.id}: it may never be delivered`,
          'BACKPLANE_OUTBOX_FULL',
        ),
      );
    }
  }

  /**
   * Redis answered a publish with an error (OOM, READONLY...): an outage too, since nothing this hub
   * publishes gets ordered. The broadcast keeps its place and is retried every second.
   */
  private refused(err: unknown): void {
    if (this.closed) return;
    this.refusing = true;
    this.lost(err, `refuses broadcasts (retried every ${REFUSED_RETRY_MS} ms)`);
    this.retry ??= setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, REFUSED_RETRY_MS);
    this.retry.unref?.();
  }

  /**
   * A command failed for a transport reason (a timeout means a hung server): an outage begins, and the
   * connection is reset so that every command still pending fails over at once and it reconnects.
   */
  private transportFailed(err: unknown): void {
    if (this.closed) return;
    this.lost(
      isTimeout(err)
        ? new SseHubError(`a command got no answer within ${this.timeout} ms (Redis hung or overloaded)`, 'BACKPLANE_TIMEOUT', { cause: err })
        : err,
    );
    if (this.cmdBroken) return;
    this.cmdBroken = true;
    if (this.cmd.status === 'ready') this.cmd.disconnect(true);
  }

  // ---- the link's state ----------------------------------------------------------------------

  /**
   * Redis became unreachable or hung: the state becomes `outage`, and `onError` hears of it once per
   * outage (a relapse while catching up is the same outage), as an `SseHubError`,
   * `BACKPLANE_UNAVAILABLE`, whose `cause` says why.
   */
  private lost(cause: unknown, how = 'unreachable'): void {
    if (this.closing || this.linkState === 'outage') return;
    const error = new SseHubError(
      `ssehub/redis: Redis at ${this.where} ${how}: ${describe(cause)}. Broadcasts wait in the outbox ` +
        `(${this.outbox.size} now, at most ${this.maxOutbox}) and are delivered, on every hub, once Redis has ordered them`,
      'BACKPLANE_UNAVAILABLE',
      { cause },
    );
    this.setState('outage', { error, outbox: this.outbox.size });
    if (!this.outageReported) this.handler?.error(error);
    this.outageReported = true;
  }

  /** Moves from connecting or an outage to catching-up, and from catching-up to connected, when it can. */
  private refresh(): void {
    if (this.closing || this.epoch === undefined || this.linkState === 'connected') return;
    if (!this.synced || !this.cmdUp() || this.refusing) return;
    const behind = this.pumping || this.outbox.waiting > 0 || this.lastPos < this.catchUpTo;
    if (!behind) this.outageReported = false;
    this.setState(behind ? 'catching-up' : 'connected', { outbox: this.outbox.size });
  }

  private setState(state: BackplaneState, detail: { error?: unknown; outbox?: number }): void {
    if (state === this.linkState) return;
    this.linkState = state;
    this.handler?.state(state, detail);
  }

  // ---- reading -------------------------------------------------------------------------------

  private async readLoop(): Promise<void> {
    while (!this.closed) {
      try {
        if (!this.synced) await this.sync();
        if (this.closed || !this.synced) continue;
        const read = this.reader.call(
          'XREAD', 'COUNT', this.batch, 'BLOCK', this.block, 'STREAMS', this.keys[0], `${this.lastPos}-0`,
        ) as Promise<[string, [string, string[]][]][] | null>;
        // A server that stopped answering (not closed) would block the reader forever: reset it.
        const reply = await this.watched(read, this.block + this.timeout, 'a blocking XREAD');
        if (this.closed || !this.synced) continue;
        if (reply) await this.onBatch(reply[0]![1]);
        // Quiet for a whole block: check that the data set is still the one this hub reads (a FLUSHALL
        // or an eviction restarts the positions below the cursor, where XREAD would never look).
        else this.adopt(await this.readState());
        if (this.linkState === 'catching-up') this.refresh();
      } catch (err) {
        if (this.closed) return;
        this.synced = false;
        this.lost(this.readerHung ?? err);
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
    this.readerHung = undefined;
    this.readerError = undefined;
    this.resolveFirstSync();
    this.kick();
    this.refresh();
  }

  private readState(): Promise<StateReply> {
    return this.watched(this.reader.ssehubState(...this.keys, newEpoch()), this.timeout, 'a state check');
  }

  /** Resets the reader when `p` gets no answer within `ms`: Redis is hung. */
  private watched<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    const watchdog = setTimeout(() => {
      this.readerHung = new SseHubError(`${what} got no answer within ${ms} ms (Redis hung)`, 'BACKPLANE_TIMEOUT');
      this.reader.disconnect(true);
    }, ms);
    return p.finally(() => clearTimeout(watchdog));
  }

  /** Compares where the log stands with where this hub is, and resets when they no longer fit. */
  private adopt([epoch, head, oldest]: StateReply): void {
    if (this.epoch === undefined) {
      // First contact: live from the head on; older entries are served by replay. This hub publishes
      // nothing before this point, so none of its own broadcasts lies behind the cursor.
      this.lastPos = head;
      this.catchUpTo = head;
      this.handler!.advance(head);
    } else if (epoch !== this.epoch || head < this.lastPos) {
      // Redis lost (or rolled back) its data: resume from the new data set's start. The outbox keeps
      // what Redis had not confirmed; it is published into the new data set, in order.
      this.lastPos = epoch !== this.epoch ? Math.max(0, oldest - 1) : head;
      this.catchUpTo = head;
      this.handler!.reset('epoch', this.lastPos);
    } else {
      if (oldest > this.lastPos + 1) {
        // Further behind than the history: what was trimmed meanwhile is gone for this hub.
        this.lastPos = oldest - 1;
        this.handler!.reset('behind', this.lastPos);
      }
      this.catchUpTo = Math.max(this.catchUpTo, head);
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
      // One of ours whose reply was lost: Redis has it, so it is not resent.
      this.outbox.landed(entry.uid);
      this.handler!.deliver(entry);
    }
  }

  private async readHistory(after: string | number | undefined, upTo: number): Promise<BackplaneReplay> {
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

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** ioredis's command timeout. */
function isTimeout(err: unknown): boolean {
  return err instanceof Error && /timed out/i.test(err.message);
}

/** An error reply from Redis (the command reached it and was refused), as opposed to a transport failure. */
function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

/** `host:port` of the server, for messages: never the URL itself, which may hold a password. */
function describeServer(url: string, redis: RedisOptions | undefined): string {
  let host = '127.0.0.1';
  let port = '6379';
  try {
    const u = new URL(url);
    host = u.hostname || host;
    port = u.port || port;
  } catch {
    // Not a URL (ioredis also takes a bare path): the options below, or the defaults.
  }
  return `${redis?.host ?? host}:${redis?.port ?? port}`;
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
