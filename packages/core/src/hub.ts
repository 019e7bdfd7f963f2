import { Connection, type Client } from './client';
import {
  sharedChannels,
  toDelivered,
  toRecord,
  type Backplane,
  type BackplaneEntry,
  type BackplaneReplay,
  type BackplaneState,
} from './backplane';
import { concatBytes, dataText, encodeComment, encodeEvent, encodeIdOnly, encodeRetry } from './encoder';
import { SseHubError } from './errors';
import { History, type Entry, type ReplayPlan } from './history';
import type { Delivered, EventMap, HubMessage, Message, UntypedEvents } from './message';
import type { Sink } from './sink';
import { validateChannel, validateMessage, type MessageLimits } from './validate';

/** Why a client was evicted. */
export type EvictReason = 'timeout' | 'buffer';

/** Messages (or a promise of them) that fill a gap the history cannot replay. */
export type InitMessages = (
  clientLastEventId: string,
  hubLastEventId: string | undefined,
  client: Client,
) => Message[] | Promise<Message[]>;

/** Options of {@link createHub}. Every one is optional. */
export interface HubOptions {
  /** How many events the replay history keeps (0 disables replay). Default: 1000. */
  history?: number;
  /** Milliseconds between heartbeat comments on one hub-wide timer (0 disables). Default: 15000. */
  heartbeat?: number;
  /** Reconnection delay (ms) sent as `retry:` first on every stream. Default: none sent. */
  retry?: number;
  /** Milliseconds a client may stay unable to take writes before that counts as one failure. Default: 5000. */
  timeout?: number;
  /** Failures in a row (see `timeout`) that evict a client. Default: 3. */
  tolerance?: number;
  /** Bytes queued for one client (hub queue plus transport buffer) past which it is evicted at once. Default: 1 MiB. */
  maxBufferedBytes?: number;
  /** Connections accepted at once; more are answered 503 with Retry-After. Default: Infinity. */
  maxClients?: number;
  /** Replay the retained history to a client that sends no Last-Event-ID. Default: false. */
  replayAll?: boolean;
  /**
   * Milliseconds after which a stream is ended so its client reconnects (and resumes from the
   * history, losing nothing), spread between 75% and 100% of this value so reconnects do not come
   * all at once. It rebalances long-lived streams across instances after a scale-out. Default: 0 (off).
   */
  maxLifetime?: number;
  /** A Last-Event-ID longer than this many characters is treated as unknown. Default: 256. */
  maxLastEventIdLength?: number;
  /**
   * Fills a gap the history cannot replay (the Last-Event-ID is unknown, or older than the history),
   * as go-libsse's `InitMessages`. Its messages go to that client only, first, and are not kept.
   * Default: none; the client then gets a {@link HubOptions.resyncEvent} event.
   */
  initMessages?: InitMessages;
  /**
   * The event type that tells a client its Last-Event-ID could not be honoured and it should reload
   * its state. Its data is JSON `{ reason, lastEventId, hubLastEventId }`. Default: `'ssehub-resync'`.
   */
  resyncEvent?: string;
  /**
   * Receives runtime errors: thrown by event handlers or `initMessages`, a transport that throws, a
   * backplane in trouble. Default: `logger.error` when a logger is given, else `process.emitWarning`.
   */
  onError?: (err: unknown) => void;
  /**
   * Where the hub says what it does, as the seeds' `Logger`: connects and disconnects at `debug`,
   * evictions at `warn`, errors at `error` (unless `onError` is given). `console` fits.
   * Default: none (silent).
   */
  logger?: HubLogger;
  /**
   * A shared log (such as `@ssehub/redis`'s `redisBackplane()`) that makes hubs in several processes
   * act as one: broadcasts reach clients on every hub, in one global order, and a client resumes on
   * any hub. `broadcast()` still returns its id at once, but delivery (here too) happens when the
   * event comes back from the log, so `lastEventId` moves then. `history` is then a local cache of
   * the shared history. Default: none (this process only, no extra cost).
   */
  backplane?: Backplane;
}

/** A logger the hub can report to; every method is optional. */
export interface HubLogger {
  debug?(message: string, details?: Record<string, unknown>): void;
  info?(message: string, details?: Record<string, unknown>): void;
  warn?(message: string, details?: Record<string, unknown>): void;
  error?(message: string, details?: Record<string, unknown>): void;
}

/** What a transport adapter knows about a new connection. */
export interface ConnectParams {
  clientId?: string;
  channels?: Iterable<string>;
  /** The raw Last-Event-ID (header or query), if the client sent one. */
  lastEventId?: string;
}

/** Something that stops accepting connections: a Node `http.Server`, `https.Server` or `http2` server. */
export interface ClosableServer {
  close(callback?: (err?: Error) => void): unknown;
  /** Node 18.2+: closes connections that carry no request. */
  closeIdleConnections?(): void;
  /** Node 18.2+: closes every connection. */
  closeAllConnections?(): void;
}

/** Options of {@link Hub.drain}. */
export interface DrainOptions {
  /**
   * Milliseconds over which the open streams are ended, one after another in random order, so their
   * clients do not all reconnect to the remaining instances in the same second. Default: 5000.
   */
  within?: number;
  /**
   * The HTTP server to close with the hub: it stops accepting at once, its idle keep-alive
   * connections are closed while the streams end, and whatever is still open `grace` ms after the
   * last stream ended is closed. Default: none (close it yourself).
   */
  server?: ClosableServer;
  /** Milliseconds the server's last connections get after the last stream ended. Default: 1000. */
  grace?: number;
}

/** Where a hub is in its life: serving, ending its streams (new ones are refused), or closed. */
export type HubState = 'open' | 'draining' | 'closed';

/** Options of {@link Hub.listen}. */
export interface ListenOptions {
  /** Ends the iteration when aborted. */
  signal?: AbortSignal;
  /** Messages a slow consumer may fall behind by before the iterator throws. Default: 10000. */
  maxQueue?: number;
}

/** The hub's events and their handler signatures. */
export interface HubEvents {
  connect: (client: Client) => void;
  disconnect: (client: Client) => void;
  evict: (client: Client, reason: EvictReason) => void;
}

const HEARTBEAT = encodeComment();
const NONE: ReadonlySet<Connection> = new Set();
const NO_CHANNELS: ReadonlySet<string> = new Set();
/** What a connection has pending after a write; shared, so a write allocates nothing (enqueue replaces it). */
const NO_FRAMES: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];
/** Frames larger than this are written at once rather than coalesced with the rest of the turn. */
const COALESCE_LIMIT = 64 * 1024;

interface Listener {
  queue: Delivered[];
  wake: (() => void) | undefined;
  done: boolean;
  error: Error | undefined;
  max: number;
}

/**
 * The framework-agnostic SSE hub: holds the connections, fans broadcasts out to them, keeps the
 * replay history and evicts clients that fall behind. Create one with {@link createHub}.
 * `Events` (default: untyped) maps event types to payload types; see {@link HubMessage}.
 */
export class Hub<Events extends EventMap = UntypedEvents> {
  private readonly clientSet = new Set<Connection>();
  private readonly byChannel = new Map<string, Set<Connection>>();
  private readonly byClientId = new Map<string, Set<Connection>>();
  private readonly history: History;
  private readonly listeners = new Set<Listener>();
  private readonly handlers: { [K in keyof HubEvents]: Set<HubEvents[K]> } = {
    connect: new Set(),
    disconnect: new Set(),
    evict: new Set(),
  };
  /** Ids this hub assigns are `idBase + seq`: numeric, increasing, and larger than any of a previous process. */
  private readonly idBase = Date.now() * 1000;
  private seq = 0;
  private headId: string | undefined;
  private connSeq = 0;
  private dirty: Connection[] = [];
  private flushScheduled = false;
  private readonly congested = new Set<Connection>();
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private isClosed = false;
  private isDraining = false;
  private lifetimeTimer: ReturnType<typeof setInterval> | undefined;
  private readonly retryBytes: Uint8Array | undefined;

  private readonly heartbeatMs: number;
  private readonly timeout: number;
  private readonly tolerance: number;
  private readonly maxBufferedBytes: number;
  private readonly maxClients: number;
  private readonly replayAll: boolean;
  private readonly maxLifetime: number;
  private readonly maxIdLength: number;
  private readonly limits: MessageLimits;
  private readonly initMessages: InitMessages | undefined;
  private readonly resyncEvent: string;
  private readonly onError: (err: unknown) => void;
  private readonly logger: HubLogger | undefined;
  private readonly backplane: Backplane | undefined;
  /** Position in the backplane's global sequence of the last entry applied here. */
  private sharedPos = 0;
  /** Shared replays waiting for this hub to reach a position some other hub already delivered. */
  private readonly posWaiters = new Set<PosWaiter>();
  /** Shared replays in progress, each collecting what this hub applies meanwhile. */
  private readonly taps = new Set<TapItem[]>();
  private resets = 0;
  private linkState: BackplaneState = 'connecting';
  /** Broadcast ids with a backplane: unique across processes without asking anyone. */
  private readonly uidPrefix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}-`;
  private uidSeq = 0;

  constructor(options: HubOptions = {}) {
    const {
      history = 1000,
      heartbeat = 15_000,
      retry,
      timeout = 5000,
      tolerance = 3,
      maxBufferedBytes = 1024 * 1024,
      maxClients = Infinity,
      replayAll = false,
      maxLifetime = 0,
      maxLastEventIdLength = 256,
      initMessages,
      resyncEvent = 'ssehub-resync',
      logger,
      onError = logger?.error ? (error: unknown) => logger.error!('ssehub: error', { error }) : defaultOnError,
      backplane,
    } = options;
    checkCount('history', history);
    checkCount('heartbeat', heartbeat);
    checkCount('timeout', timeout);
    checkCount('tolerance', tolerance, 1);
    checkCount('maxBufferedBytes', maxBufferedBytes, 1);
    checkCount('maxLifetime', maxLifetime);
    if (maxClients !== Infinity) checkCount('maxClients', maxClients, 1);
    if (retry !== undefined) checkCount('retry', retry);
    validateMessage({ data: '', event: resyncEvent });
    this.limits = { maxIdLength: maxLastEventIdLength };
    this.history = new History(history);
    this.heartbeatMs = heartbeat;
    this.retryBytes = retry === undefined ? undefined : encodeRetry(retry);
    this.timeout = timeout;
    this.tolerance = tolerance;
    this.maxBufferedBytes = maxBufferedBytes;
    this.maxClients = maxClients;
    this.replayAll = replayAll;
    this.maxLifetime = maxLifetime;
    this.maxIdLength = maxLastEventIdLength;
    this.initMessages = initMessages;
    this.resyncEvent = resyncEvent;
    this.onError = onError;
    this.logger = logger;
    this.backplane = backplane;
    backplane?.attach({
      deliver: (e) => this.applyShared(e),
      advance: (pos) => this.advanceShared(pos),
      reset: (reason, pos) => this.resetShared(reason, pos),
      error: (err) => this.onError(err),
      state: (state, detail) => this.backplaneStateChanged(state, detail),
    });
  }

  // ---- publishing ----------------------------------------------------------------------------

  /**
   * Sends a message to every connection, or to the subscribers of `message.channel`.
   * The event is encoded once; the same bytes go to every recipient and into the history.
   * @returns the event id (assigned by the hub when the message has none).
   * @throws TypeError naming the field when the message cannot be sent exactly as given: an `event`
   *   or `channel` empty or holding CR, LF or NUL, an `id` that is not 1 to `maxLastEventIdLength`
   *   characters of visible ASCII, a `retry` that is not a non-negative integer, `data` missing or not
   *   JSON-serialisable, a lone surrogate anywhere; nothing is sent to anyone then.
   * @example hub.broadcast({ event: 'tick', data: { n: 1 } });
   */
  broadcast(message: HubMessage<Events>): string {
    validateMessage(message, this.limits);
    this.assertOpen();
    if (this.backplane) return this.share(message, undefined);
    return this.append(message, undefined).id;
  }

  /**
   * Sends a message to every connection of one client id (`?id=` by default). It is kept in the
   * history and replayed to that client id only.
   * @returns how many connections it reached now (with a backplane: how many of this hub's
   *   connections it will reach; those on other hubs are not counted).
   */
  broadcastTo(clientId: string, message: HubMessage<Events>): number {
    return this.send(message, { to: clientId }).consumers;
  }

  /**
   * What `broadcast` and `broadcastTo` do, answering both the event id and how many of this hub's
   * streams it reaches now (with a backplane, streams on other hubs are not counted). The publish
   * API answers with these.
   * @param options.to a client id: the message goes to that client id only, as `broadcastTo`.
   * @throws TypeError as `broadcast`, or for an empty `to`.
   */
  send(message: HubMessage<Events>, options: { to?: string } = {}): { id: string; consumers: number } {
    const { to } = options;
    if (to !== undefined && (typeof to !== 'string' || to === '')) throw new TypeError('ssehub: clientId must be a non-empty string');
    validateMessage(message, this.limits);
    this.assertOpen();
    const consumers = this.reach(to, to === undefined ? channelList((message as Message).channel) : undefined);
    const id = this.backplane ? this.share(message, to) : this.append(message, to).id;
    return { id, consumers };
  }

  /** How many streams here a message to `to` or `channels` reaches now. */
  private reach(to: string | undefined, channels: readonly string[] | undefined): number {
    if (to !== undefined) return this.byClientId.get(to)?.size ?? 0;
    if (channels === undefined) return this.clientSet.size;
    if (channels.length === 1) return this.byChannel.get(channels[0]!)?.size ?? 0;
    return this.subscribersOfAny(channels).size;
  }

  /** Gives a message its id and place in this hub's order, keeps it and delivers it. */
  private append(message: Message, to: string | undefined): Entry {
    const seq = ++this.seq;
    const id = message.id ?? String(this.idBase + seq);
    const delivered: Delivered = { ...message, id };
    if (to !== undefined) {
      delivered.clientId = to;
      delete delivered.channel;
    }
    const entry: Entry = {
      seq,
      id,
      bytes: encodeEvent(message, id),
      channels: to === undefined ? channelList(message.channel) : undefined,
      to,
      message: delivered,
    };
    this.fanOut(entry);
    return entry;
  }

  /** Keeps an entry and hands it to its recipients and to `listen()` consumers. */
  private fanOut(entry: Entry): void {
    const { seq, to, channels } = entry;
    this.history.push(entry);
    this.headId = entry.id;
    const targets =
      to !== undefined
        ? this.byClientId.get(to) ?? NONE
        : channels === undefined
          ? this.clientSet
          : channels.length === 1
            ? this.byChannel.get(channels[0]!) ?? NONE
            : this.subscribersOfAny(channels);
    for (const c of targets) this.enqueue(c, entry.bytes, seq);
    for (const l of this.listeners) this.notify(l, entry.message);
  }

  /** Connections subscribed to any of several channels, each once. */
  private subscribersOfAny(channels: readonly string[]): Set<Connection> {
    const out = new Set<Connection>();
    for (const ch of channels) for (const c of this.byChannel.get(ch) ?? NONE) out.add(c);
    return out;
  }

  // ---- the backplane (absent by default) ------------------------------------------------------

  /** Hands a broadcast to the backplane; it is delivered here when it comes back, in global order. */
  private share(message: Message, to: string | undefined): string {
    const record = toRecord(message, to, this.uidPrefix + (++this.uidSeq).toString(36), dataText(message.data));
    this.backplane!.publish(record);
    return record.id;
  }

  private applyShared(e: BackplaneEntry): void {
    if (this.isClosed) return;
    if (e.pos !== undefined) this.sharedPos = e.pos;
    // `data` is already the wire text, so every hub encodes the bytes the publishing hub would have.
    const bytes = encodeEvent({ data: e.data, event: e.event, retry: e.retry }, e.id);
    const entry: Entry = { seq: ++this.seq, id: e.id, bytes, channels: sharedChannels(e.channel), to: e.to, message: toDelivered(e) };
    this.fanOut(entry);
    if (this.taps.size) for (const t of this.taps) if (t.length <= MAX_TAP) t.push({ pos: e.pos, entry });
    if (this.posWaiters.size) this.wakePosWaiters();
  }

  private advanceShared(pos: number): void {
    this.sharedPos = pos;
    if (this.posWaiters.size) this.wakePosWaiters();
  }

  /** The shared log lost history: drop the local cache and tell every client to resync. */
  private resetShared(reason: string, pos: number): void {
    if (this.isClosed) return;
    this.resets++;
    this.sharedPos = pos;
    this.history.clear();
    const data = { reason: `backplane-${reason}`, lastEventId: null, hubLastEventId: this.headId ?? null };
    const frame = encodeEvent({ event: this.resyncEvent, data }, this.headId ?? '');
    for (const c of this.clientSet) this.enqueue(c, frame, Infinity);
    this.wakePosWaiters();
  }

  private backplaneStateChanged(state: BackplaneState, detail: { error?: unknown; outbox?: number } = {}): void {
    const was = this.linkState;
    if (state === was) return;
    this.linkState = state;
    if (state === 'outage') this.logger?.warn?.('ssehub: backplane unreachable; broadcasts wait until it returns', { ...detail, was });
    else this.logger?.info?.(`ssehub: backplane ${state}`, { ...detail, was });
  }

  /** The backplane's link state, or undefined without a backplane. */
  get backplaneState(): BackplaneState | undefined {
    return this.backplane ? this.linkState : undefined;
  }

  private wakePosWaiters(): void {
    for (const w of this.posWaiters) if (this.sharedPos >= w.pos || this.resets !== w.resets) w.wake();
  }

  /**
   * Replays from the shared history to a registered connection. Nothing live is queued for it until
   * the cut: replayed entries reach exactly the position this hub has applied, then live ones follow.
   */
  private replayShared(c: Connection, lastEventId: string | undefined, prelude: Uint8Array[]): void {
    c.skipUpTo = Infinity;
    const resets = this.resets;
    // Entries applied while Redis answers, in order: those after the last read's `upTo` complete it.
    const tap: TapItem[] = [];
    this.taps.add(tap);
    const finish = (upTo: number) => {
      this.taps.delete(tap);
      if (tap.length > MAX_TAP) return gap('unavailable');
      for (const t of tap) if ((t.pos === undefined || t.pos > upTo) && visible(c, t.entry)) prelude.push(t.entry.bytes);
      c.skipUpTo = this.seq;
      this.start(c, prelude);
    };
    const gap = (reason: string) => {
      this.taps.delete(tap);
      c.skipUpTo = this.seq;
      if (lastEventId === undefined) this.start(c, prelude);
      else this.gap(c, lastEventId, reason, prelude);
    };
    const read = (after: string | number | undefined, upTo: number): void => {
      const done = (r: BackplaneReplay): void => {
        if (c.closed || this.isClosed) return void this.taps.delete(tap);
        if (this.resets !== resets) return gap('expired');
        if (r.kind === 'gap') return gap(r.reason);
        for (const e of r.entries) {
          if (mayReceive(c, e.to, sharedChannels(e.channel))) {
            prelude.push(encodeEvent({ data: e.data, event: e.event, retry: e.retry }, e.id));
          }
        }
        if (r.from <= upTo) return finish(upTo);
        // The client saw more than this hub had applied: once this hub gets there, read on from there.
        this.waitForPos(r.from, resets, (ok) => {
          if (c.closed || this.isClosed) this.taps.delete(tap);
          else if (ok) read(r.from, this.sharedPos);
          else gap('unavailable');
        });
      };
      this.backplane!.replay(after, upTo).then(done, (err) => {
        this.onError(err);
        if (c.closed || this.isClosed) this.taps.delete(tap);
        else gap('unavailable');
      });
    };
    read(lastEventId, this.sharedPos);
  }

  private waitForPos(pos: number, resets: number, then: (ok: boolean) => void): void {
    const w: PosWaiter = {
      pos,
      resets,
      timer: setTimeout(() => settle(false), POS_WAIT_MS),
      wake: () => settle(this.resets === resets),
    };
    const settle = (ok: boolean) => {
      if (!this.posWaiters.delete(w)) return;
      clearTimeout(w.timer);
      then(ok);
    };
    w.timer.unref?.();
    this.posWaiters.add(w);
    if (this.sharedPos >= pos) w.wake();
  }

  // ---- connections ---------------------------------------------------------------------------

  /** True when `maxClients` connections are open: adapters answer 503 instead of connecting. */
  get full(): boolean {
    return this.clientSet.size >= this.maxClients;
  }

  /**
   * Registers a stream. Adapters call this after sending the headers; apps rarely need it.
   * The client is registered for live delivery first, then the replay (or gap fill) up to a snapshot
   * of the head is written, then what arrived meanwhile: no gap, no duplicate.
   * @throws SseHubError `HUB_CLOSED` after `close()`, `HUB_FULL` past `maxClients`; TypeError for a
   *   channel name that breaks the channel rule (non-empty, no CR, LF or NUL); nothing is registered then.
   */
  connect(sink: Sink, params: ConnectParams = {}): Client {
    this.assertOpen();
    if (this.isDraining) throw new SseHubError('ssehub: the hub is draining', 'HUB_DRAINING');
    if (this.full) throw new SseHubError(`ssehub: maxClients (${this.maxClients}) reached`, 'HUB_FULL');
    const named = new Set<string>();
    for (const ch of params.channels ?? []) {
      validateChannel(ch);
      named.add(ch);
    }
    // Most streams join no channel: they share one empty set instead of keeping one each.
    const channels: ReadonlySet<string> = named.size ? named : NO_CHANNELS;
    const clientId = params.clientId === '' ? undefined : params.clientId;
    const lastEventId = params.lastEventId === '' ? undefined : params.lastEventId;
    const c = new Connection(String(++this.connSeq), sink, clientId, channels, lastEventId);

    this.clientSet.add(c);
    for (const ch of channels) addTo(this.byChannel, ch, c);
    if (clientId !== undefined) addTo(this.byClientId, clientId, c);
    sink.onClose(() => this.remove(c, false));
    this.startHeartbeat();
    if (this.maxLifetime > 0) {
      // Between 75% and 100% of the lifetime: reconnects after a scale-out spread out instead of coming at once.
      c.endsAt = c.connectedAt + this.maxLifetime * (0.75 + 0.25 * Math.random());
      this.startLifetimeTimer();
    }

    // Snapshot the head: live entries after it queue in `pending` while the prelude is built.
    const plan = this.plan(lastEventId);
    c.skipUpTo = this.seq;
    const prelude: Uint8Array[] = [];
    if (this.retryBytes) prelude.push(this.retryBytes);
    if (plan.kind === 'replay') {
      // No id on the signal: a client that drops during this replay comes back with its old id and gets it again.
      if (plan.restart) prelude.push(this.resyncFrame(lastEventId!, 'restart', false));
      for (const e of plan.entries) if (visible(c, e)) prelude.push(e.bytes);
    }
    this.emit('connect', c);
    if (this.backplane && (lastEventId === undefined ? this.replayAll : plan.kind === 'gap' && this.validId(lastEventId))) {
      // Not in the local cache (or a full replay): the shared history decides, asynchronously.
      this.replayShared(c, lastEventId, prelude);
    } else if (plan.kind !== 'gap') {
      this.start(c, prelude);
    } else {
      this.gap(c, lastEventId!, plan.reason, prelude);
    }
    return c;
  }

  /** The gap path: `initMessages` when set, else the resync event. */
  private gap(c: Connection, lastEventId: string, reason: string, prelude: Uint8Array[]): void {
    if (!this.initMessages) {
      prelude.push(this.resyncFrame(lastEventId, reason));
      this.start(c, prelude);
    } else {
      this.fillGap(c, lastEventId, reason, prelude);
    }
  }

  private validId(lastEventId: string): boolean {
    return lastEventId.length <= this.maxIdLength && !/[\0\r\n]/.test(lastEventId);
  }

  private fillGap(c: Connection, lastEventId: string, reason: string, prelude: Uint8Array[]): void {
    const headId = this.headId;
    const finish = (messages: Message[]) => {
      if (!Array.isArray(messages)) throw new TypeError('ssehub: initMessages must return an array of messages');
      // Move the client's last id to the head, so its next reconnect resumes from here: on the last
      // message when it has no id of its own (parsers that report ids only with events see it too),
      // else in an id-only block.
      const last = messages.length - 1;
      const idOnly = headId !== undefined && (last < 0 || messages[last]!.id !== undefined);
      // Encode all before adding any, so a bad message leaves the prelude untouched for the fallback.
      const frames = messages.map((m, i) => (validateMessage(m, this.limits), encodeEvent(m, m.id ?? (i === last ? headId : undefined))));
      prelude.push(...frames);
      if (idOnly) prelude.push(encodeIdOnly(headId!));
      this.start(c, prelude);
    };
    const fail = (err: unknown) => {
      this.onError(err);
      prelude.push(this.resyncFrame(lastEventId, reason));
      this.start(c, prelude);
    };
    try {
      const result = this.initMessages!(lastEventId, headId, c);
      if (isPromiseLike(result)) result.then(finish, fail).then(undefined, fail);
      else finish(result);
    } catch (err) {
      fail(err);
    }
  }

  private resyncFrame(lastEventId: string, reason: string, moveToHead = true): Uint8Array {
    const data = { reason, lastEventId: lastEventId.slice(0, this.maxIdLength), hubLastEventId: this.headId ?? null };
    // The id moves the client to the head (or clears it when there is none), so a reconnect does not loop.
    return encodeEvent({ event: this.resyncEvent, data }, moveToHead ? this.headId ?? '' : undefined);
  }

  /** Decides what a client that sent `lastEventId` gets before live events. */
  private plan(lastEventId: string | undefined): ReplayPlan {
    if (lastEventId === undefined) {
      return this.replayAll && this.history.size ? { kind: 'replay', entries: this.history.after(0) } : { kind: 'live' };
    }
    if (!this.validId(lastEventId)) return { kind: 'gap', reason: 'unknown-id' };
    if (lastEventId === this.headId) return { kind: 'live' };
    const seq = this.history.seqOf(lastEventId);
    if (seq !== undefined) return { kind: 'replay', entries: this.history.after(seq) };
    const numeric = /^\d+$/.test(lastEventId);
    const n = Number(lastEventId);
    if (numeric && n <= this.idBase && !this.backplane) {
      // An earlier process's id (this one's ids start above them all): what this process published is
      // all it can give, and it can give all of it while nothing has fallen off the history.
      if (this.initMessages || !this.history.complete) return { kind: 'gap', reason: this.initMessages ? 'restart' : 'expired' };
      return { kind: 'replay', entries: this.history.after(0), restart: true };
    }
    const ours = numeric && n > this.idBase && n <= this.idBase + this.seq;
    return { kind: 'gap', reason: ours ? 'expired' : 'unknown-id' };
  }

  /** Writes the prelude, then whatever live frames queued while it was built. */
  private start(c: Connection, prelude: Uint8Array[]): void {
    if (c.closed) return;
    c.ready = true;
    if (prelude.length) {
      let bytes = 0;
      for (const p of prelude) bytes += p.byteLength;
      c.pending = prelude.concat(c.pending);
      c.pendingBytes += bytes;
    }
    if (c.pending.length) this.write(c, undefined);
  }

  /** Ends every stream of one client id. @returns how many were ended. */
  disconnect(clientId: string): number {
    return this.endAll(this.byClientId.get(clientId));
  }

  /** Ends every stream subscribed to `channel` (their clients may reconnect). @returns how many were ended. */
  closeChannel(channel: string): number {
    return this.endAll(this.byChannel.get(channel));
  }

  /**
   * Ends every stream and keeps the hub open, as go-libsse's `Restart`: clients reconnect with their
   * Last-Event-ID and resume from the history. @returns how many were ended.
   */
  disconnectAll(): number {
    return this.endAll(this.clientSet);
  }

  private endAll(set: Set<Connection> | undefined): number {
    if (!set) return 0;
    // A copy: `remove` deletes from the set being walked, and may delete the set itself.
    const list = [...set];
    for (const c of list) this.remove(c, true);
    return list.length;
  }

  private remove(c: Connection, endStream: boolean): void {
    if (c.closed) return;
    c.closed = true;
    this.clientSet.delete(c);
    for (const ch of c.channels) deleteFrom(this.byChannel, ch, c);
    if (c.clientId !== undefined) deleteFrom(this.byClientId, c.clientId, c);
    this.congested.delete(c);
    c.pending = [];
    c.pendingBytes = 0;
    if (endStream) {
      // A congested stream would never finish ending: drop it instead of waiting on a stalled peer.
      if (c.congested) c.sink.destroy();
      else c.sink.end();
    }
    if (this.clientSet.size === 0) this.stopTimers();
    this.emit('disconnect', c);
  }

  private evict(c: Connection, reason: EvictReason): void {
    if (c.closed) return;
    this.emit('evict', c, reason);
    c.sink.destroy();
    this.remove(c, false);
  }

  // ---- delivery and backpressure -------------------------------------------------------------

  private enqueue(c: Connection, bytes: Uint8Array, seq: number): void {
    if (c.closed || seq <= c.skipUpTo) return;
    // Most turns queue one frame per client: a one-element array is the smallest allocation for it.
    if (c.pending.length === 0) c.pending = [bytes];
    else c.pending.push(bytes);
    c.pendingBytes += bytes.byteLength;
    if (c.congested) {
      if (c.pendingBytes + c.sink.bufferedBytes > this.maxBufferedBytes) this.evict(c, 'buffer');
      return;
    }
    if (!c.ready) {
      if (c.pendingBytes > this.maxBufferedBytes) this.evict(c, 'buffer');
      return;
    }
    if (c.pendingBytes > COALESCE_LIMIT) {
      this.write(c, undefined);
      return;
    }
    if (!c.queued) {
      c.queued = true;
      this.dirty.push(c);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(this.flush);
      }
    }
  }

  /** Writes what every dirty client has pending, once per turn: a burst becomes one write per client. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    // Clients with the same pending frames (the common case: global broadcasts) share one buffer.
    const shared: SharedConcat = { frames: undefined, bytes: undefined };
    for (const c of dirty) {
      c.queued = false;
      if (!c.closed && c.ready && !c.congested && c.pending.length) this.write(c, shared);
    }
  };

  private write(c: Connection, shared: SharedConcat | undefined): void {
    const frames = c.pending;
    let bytes: Uint8Array;
    if (frames.length === 1) bytes = frames[0]!;
    else if (shared && sameFrames(frames, shared.frames)) bytes = shared.bytes!;
    else {
      bytes = concatBytes(frames, c.pendingBytes);
      if (shared) {
        shared.frames = frames;
        shared.bytes = bytes;
      }
    }
    c.pending = NO_FRAMES;
    c.pendingBytes = 0;
    let ok: boolean;
    try {
      ok = c.sink.write(bytes);
    } catch (err) {
      // A transport that throws is gone; its close handler may never run.
      this.onError(err);
      c.sink.destroy();
      this.remove(c, false);
      return;
    }
    if (!ok && !c.closed) this.markCongested(c);
  }

  private markCongested(c: Connection): void {
    c.congested = true;
    c.congestedSince = Date.now();
    this.congested.add(c);
    if (c.sink.bufferedBytes > this.maxBufferedBytes) {
      this.evict(c, 'buffer');
      return;
    }
    c.sink.onDrain(() => {
      if (c.closed) return;
      c.congested = false;
      c.failures = 0;
      this.congested.delete(c);
      if (c.pending.length) this.write(c, undefined);
    });
    if (this.timeout > 0 && !this.sweepTimer) {
      // One hub-wide timer checks stalled clients, and runs only while some are stalled.
      const every = Math.min(1000, Math.max(5, Math.floor(this.timeout / 4)));
      this.sweepTimer = setInterval(this.sweep, every);
      this.sweepTimer.unref?.();
    }
  }

  private readonly sweep = (): void => {
    const now = Date.now();
    for (const c of this.congested) {
      if (now - c.congestedSince < this.timeout) continue;
      c.failures++;
      c.congestedSince = now;
      if (c.failures >= this.tolerance) this.evict(c, 'timeout');
    }
    if (this.congested.size === 0 && this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  };

  private startHeartbeat(): void {
    if (this.heartbeatMs <= 0 || this.heartbeatTimer) return;
    this.heartbeatTimer = setInterval(() => {
      // Infinity: a heartbeat is never covered by a replay snapshot.
      for (const c of this.clientSet) if (!c.congested) this.enqueue(c, HEARTBEAT, Infinity);
    }, this.heartbeatMs);
    this.heartbeatTimer.unref?.();
  }

  private startLifetimeTimer(): void {
    if (this.lifetimeTimer) return;
    // Checks often enough to end a stream within 5% of its lifetime, and at most once a second... or faster for short ones.
    const every = Math.min(1000, Math.max(10, Math.floor(this.maxLifetime / 20)));
    this.lifetimeTimer = setInterval(() => {
      const now = Date.now();
      for (const c of this.clientSet) if (now >= c.endsAt) this.remove(c, true);
    }, every);
    this.lifetimeTimer.unref?.();
  }

  private stopTimers(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.lifetimeTimer) clearInterval(this.lifetimeTimer);
    this.heartbeatTimer = this.sweepTimer = this.lifetimeTimer = undefined;
  }

  // ---- observing -----------------------------------------------------------------------------

  /** Open connections. */
  get size(): number {
    return this.clientSet.size;
  }

  /** Open connections subscribed to `channel`. */
  channelSize(channel: string): number {
    return this.byChannel.get(channel)?.size ?? 0;
  }

  /** Open connections of one client id (see {@link Hub.broadcastTo}). */
  clientSize(clientId: string): number {
    return this.byClientId.get(clientId)?.size ?? 0;
  }

  /** Channels with at least one subscriber. */
  channels(): string[] {
    return [...this.byChannel.keys()];
  }

  /** The open connections. */
  clients(): Client[] {
    return [...this.clientSet];
  }

  /** The id of the newest broadcast, or undefined before the first. */
  get lastEventId(): string | undefined {
    return this.headId;
  }

  /** True after {@link Hub.close} (or once {@link Hub.drain} has ended every stream). */
  get closed(): boolean {
    return this.isClosed;
  }

  /** `'open'`, `'draining'` (streams are being ended, new ones refused) or `'closed'`. */
  get state(): HubState {
    return this.isClosed ? 'closed' : this.isDraining ? 'draining' : 'open';
  }

  /**
   * Every broadcast from now on, as davidsbond/sse's `Listen()`: `for await (const m of hub.listen())`.
   * Ends when the hub closes, the signal aborts, or the loop breaks.
   * @throws SseHubError from the iterator when the consumer falls `maxQueue` messages behind.
   */
  listen(options: ListenOptions = {}): AsyncIterableIterator<Delivered> {
    this.assertOpen();
    const l: Listener = { queue: [], wake: undefined, done: false, error: undefined, max: options.maxQueue ?? 10_000 };
    this.listeners.add(l);
    const stop = () => {
      l.done = true;
      l.wake?.();
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    if (options.signal?.aborted) stop();
    const listeners = this.listeners;
    async function* iterate(): AsyncGenerator<Delivered> {
      try {
        for (;;) {
          while (l.queue.length) yield l.queue.shift()!;
          if (l.error) throw l.error;
          if (l.done) return;
          await new Promise<void>((resolve) => (l.wake = resolve));
          l.wake = undefined;
        }
      } finally {
        listeners.delete(l);
        options.signal?.removeEventListener('abort', stop);
      }
    }
    return iterate();
  }

  private notify(l: Listener, m: Delivered): void {
    if (l.done) return;
    if (l.queue.length >= l.max) {
      l.error = new SseHubError(`ssehub: listen() consumer fell ${l.max} messages behind`, 'INTERNAL');
      l.done = true;
      l.queue = [];
      this.listeners.delete(l);
    } else {
      l.queue.push(m);
    }
    l.wake?.();
  }

  /** Adds an event handler. @returns a function that removes it. */
  on<K extends keyof HubEvents>(event: K, handler: HubEvents[K]): () => void {
    this.handlers[event].add(handler);
    return () => this.off(event, handler);
  }

  /** Removes an event handler added with {@link Hub.on}. */
  off<K extends keyof HubEvents>(event: K, handler: HubEvents[K]): void {
    this.handlers[event].delete(handler);
  }

  private emit<K extends keyof HubEvents>(event: K, ...args: Parameters<HubEvents[K]>): void {
    if (this.logger) this.log(event, args[0], args[1] as EvictReason | undefined);
    for (const h of this.handlers[event]) {
      try {
        (h as (...a: unknown[]) => void)(...args);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  private log(event: keyof HubEvents, c: Client, reason: EvictReason | undefined): void {
    const details: Record<string, unknown> = { id: c.id, clientId: c.clientId, channels: [...c.channels] };
    if (event === 'evict') this.logger!.warn?.('ssehub: evicted a client that fell behind', { ...details, reason, bufferedBytes: c.bufferedBytes });
    else this.logger!.debug?.(`ssehub: ${event}`, event === 'connect' ? { ...details, lastEventId: c.lastEventId } : details);
  }

  /**
   * Shuts the hub down without stranding a client: new streams are refused at once with an answer
   * EventSource recovers from (a `200` that sets `retry:` and ends), the open streams are ended one
   * after another over `within` ms in random order (broadcasts still reach those not yet ended), each
   * client reconnects by itself with its Last-Event-ID (to another instance, or to this app once it
   * is back), then the hub closes. Given the HTTP `server`, it also stops accepting at once and closes
   * its connections, the last ones `grace` ms after the last stream ended. Resolves when all that is
   * done: within `within + grace` ms (plus the backplane's close). Idempotent.
   * @example process.on('SIGTERM', () => hub.drain({ within: 5000, server }).then(() => process.exit(0)));
   */
  drain(options: DrainOptions = {}): Promise<void> {
    this.draining ??= this.runDrain(options);
    return this.draining;
  }

  private draining: Promise<void> | undefined;

  private async runDrain(options: DrainOptions): Promise<void> {
    const { within = 5000, server, grace = 1000 } = options;
    checkCount('within', within);
    checkCount('grace', grace);
    const serverClosed = server ? new Promise<void>((resolve) => void server.close(() => resolve())) : undefined;
    if (!this.isClosed) {
      this.isDraining = true;
      const order = shuffle([...this.clientSet]);
      const started = Date.now();
      // One stream every within/n ms: enough ticks to spread the ends, never a timer per stream.
      const tick = Math.min(100, Math.max(10, Math.floor(within / Math.max(1, order.length))));
      let next = 0;
      while (next < order.length && !this.isClosed) {
        const due = within === 0 ? order.length : Math.min(order.length, Math.floor(((Date.now() - started) * order.length) / within) + 1);
        while (next < due) this.remove(order[next++]!, true);
        server?.closeIdleConnections?.();
        if (next < order.length) await sleep(tick);
      }
      await this.close();
    }
    if (server && serverClosed) {
      server.closeIdleConnections?.();
      const timer = sleep(grace);
      await Promise.race([serverClosed, timer]);
      server.closeAllConnections?.();
      await Promise.race([serverClosed, sleep(grace)]);
    }
  }

  /**
   * Ends every stream at once, stops every timer and ends every `listen()` iteration. Idempotent.
   * Streams end with their connection (HTTP/1 streams carry `Connection: close`), so no keep-alive
   * connection stays pinned to a process that is going away; prefer {@link Hub.drain} on a deploy.
   */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.isDraining = false;
    for (const c of [...this.clientSet]) this.remove(c, true);
    for (const l of this.listeners) {
      l.done = true;
      l.wake?.();
    }
    this.stopTimers();
    for (const w of this.posWaiters) clearTimeout(w.timer);
    this.posWaiters.clear();
    await this.backplane?.close();
  }

  private assertOpen(): void {
    if (this.isClosed) throw new SseHubError('ssehub: the hub is closed', 'HUB_CLOSED');
  }
}

/** Resolves after `ms`, without keeping the process alive for it. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

/** The list in random order (Fisher-Yates), in place. */
function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

/** How long a shared replay waits for this hub to reach the position a client already saw. */
const POS_WAIT_MS = 10_000;

/** Entries one shared replay may collect while it waits; past it the replay becomes a gap. */
const MAX_TAP = 100_000;

interface TapItem {
  readonly pos: number | undefined;
  readonly entry: Entry;
}

interface PosWaiter {
  readonly pos: number;
  readonly resets: number;
  timer: ReturnType<typeof setTimeout>;
  wake: () => void;
}

interface SharedConcat {
  frames: Uint8Array[] | undefined;
  bytes: Uint8Array | undefined;
}

function sameFrames(a: Uint8Array[], b: Uint8Array[] | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether a history entry may go to this connection: private ones to their client id only. */
function visible(c: Connection, e: Entry): boolean {
  return mayReceive(c, e.to, e.channels);
}

function mayReceive(c: Connection, to: string | undefined, channels: readonly string[] | undefined): boolean {
  if (to !== undefined) return to === c.clientId;
  if (channels === undefined) return true;
  for (const ch of channels) if (c.channels.has(ch)) return true;
  return false;
}

/** A message's channel field as a list without repeats, or undefined for a global broadcast. */
function channelList(channel: string | readonly string[] | undefined): readonly string[] | undefined {
  if (channel === undefined) return undefined;
  return typeof channel === 'string' ? [channel] : [...new Set(channel)];
}

function addTo(map: Map<string, Set<Connection>>, key: string, c: Connection): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(c);
}

function deleteFrom(map: Map<string, Set<Connection>>, key: string, c: Connection): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(c);
  if (set.size === 0) map.delete(key);
}

function isPromiseLike<T>(v: unknown): v is PromiseLike<T> {
  return typeof (v as PromiseLike<T> | null)?.then === 'function';
}

function checkCount(name: string, value: unknown, min = 0): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`ssehub: option ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
}

function defaultOnError(err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  if (typeof process !== 'undefined' && typeof process.emitWarning === 'function') process.emitWarning(e);
}

/**
 * Creates a hub. Pass an event map to have `broadcast` and `broadcastTo` check each payload
 * against its event type at compile time; with none (the default) any message goes.
 * @example
 * const hub = createHub({ history: 1000, heartbeat: 15_000, retry: 3000, timeout: 5000, tolerance: 3 });
 * hub.broadcast({ event: 'tick', data: { n: 1 } });
 * @example
 * const prices = createHub<{ price: { symbol: string; px: number }; note: string }>();
 * prices.broadcast({ event: 'price', data: { symbol: 'ACME', px: 12.5 } });
 */
export function createHub<Events extends EventMap = UntypedEvents>(options?: HubOptions): Hub<Events> {
  return new Hub<Events>(options);
}
