import type { BackplaneState } from '../backplane';
import { SseHubError } from '../errors';
import type { Delivered, EventMap, HubMessage, Message, UntypedEvents } from '../message';
import type { Sink } from '../sink';
import { encodeEvent } from '../wire/encoder';
import { validateChannel, validateMessage, type MessageLimits } from '../wire/validate';
import { Connection, type Client } from './connection';
import { Delivery } from './delivery';
import { drain, type DrainOptions } from './drain';
import { HubEventEmitter, type HubEvents } from './events';
import { History, type Entry } from './history';
import { IdSource } from './ids';
import { Lifetimes } from './lifetime';
import { Listeners, type ListenOptions } from './listeners';
import { hubConfig, type EvictReason, type HubConfig, type HubOptions } from './options';
import { Registry } from './registry';
import { Replay } from './replay';
import { SharedLog } from './shared-log';
import { Counters, type HubStats, type RefusalKind } from './stats';

/** What a transport adapter knows about a new connection. */
export interface ConnectParams {
  /** The app's identity for the stream (`broadcastTo` addresses it). Default: none. */
  clientId?: string;
  /** Channels the stream receives besides global broadcasts (each must follow the channel rule). Default: none. */
  channels?: Iterable<string>;
  /** The Last-Event-ID (header or query) exactly as the client sent it, if it sent one. */
  lastEventId?: string;
}

/** Where a hub is in its life: serving, ending its streams (new ones are refused), or closed. */
export type HubState = 'open' | 'draining' | 'closed';

/** What `hub.health()` answers, for a load balancer's readiness and liveness probes. */
export interface HubHealth {
  /** Should this instance receive new streams? */
  ready: boolean;
  /** Is the hub alive (not closed)? */
  live: boolean;
  /** The hub's lifecycle: `open`, `draining` or `closed`. */
  state: HubState;
  /** The backplane's link state, if there is one. */
  backplane: BackplaneState | undefined;
  /** Why it is not ready (empty when it is). */
  reasons: string[];
}

const NO_CHANNELS: ReadonlySet<string> = new Set();

/**
 * The framework-agnostic SSE hub: holds the connections, fans broadcasts out to them, keeps the
 * replay history and evicts clients that fall behind. Create one with {@link createHub}.
 * `Events` (default: untyped) maps event types to payload types; see {@link HubMessage}.
 *
 * It composes one part per job: a registry of connections, delivery (queueing, coalescing,
 * backpressure, eviction, heartbeat), the history and replay planning, the shared log of a
 * backplane, `listen()` consumers, events, lifetimes and draining (see `src/hub/`).
 */
export class Hub<Events extends EventMap = UntypedEvents> {
  private readonly config: HubConfig;
  private readonly limits: MessageLimits;
  private readonly registry = new Registry();
  private readonly history: History;
  private readonly ids = new IdSource();
  private readonly delivery: Delivery;
  private readonly replay: Replay;
  private readonly listeners = new Listeners();
  private readonly events: HubEventEmitter;
  private readonly lifetimes: Lifetimes;
  private readonly shared: SharedLog | undefined;
  private readonly counters = new Counters();
  /** Publish times of the entries fanned out this turn, kept only while someone listens for `latency`. */
  private latencies: number[] | undefined;
  /** Share times of this hub's broadcasts still on their way through the backplane, by id. */
  private readonly sharedAt = new Map<string, number>();
  private headId: string | undefined;
  private connSeq = 0;
  private lifeState: HubState = 'open';
  private draining: Promise<void> | undefined;

  constructor(options: HubOptions = {}) {
    const config = hubConfig(options);
    this.config = config;
    this.limits = { maxIdLength: config.maxIdLength };
    this.history = new History(config.history);
    this.events = new HubEventEmitter(config.logger, config.onError);
    this.delivery = new Delivery(
      config,
      this.registry,
      {
        evict: (c, reason) => this.evict(c, reason),
        drop: (c, err) => {
          config.onError(err);
          c.sink.destroy();
          this.remove(c, false);
        },
      },
      this.counters,
    );
    this.replay = new Replay(config, this.history, this.ids, () => this.headId, this.counters);
    this.lifetimes = new Lifetimes(config.maxLifetime, this.registry.all, (c) => this.remove(c, true));
    const hub = this;
    this.shared =
      config.backplane &&
      new SharedLog(config.backplane, {
        config,
        history: this.history,
        ids: this.ids,
        replay: this.replay,
        counters: this.counters,
        get size() {
          return hub.size;
        },
        fanOut: (entry) => this.fanOut(entry),
        tellEveryone: (frame) => {
          for (const c of this.registry.all) this.delivery.control(c, frame);
        },
        start: (c, prelude) => this.delivery.start(c, prelude),
        get closed() {
          return hub.closed;
        },
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
   * @throws SseHubError `HUB_CLOSED` after `close()`.
   * @example hub.broadcast({ event: 'tick', data: { n: 1 } });
   */
  broadcast(message: HubMessage<Events>): string {
    validateMessage(message, this.limits);
    this.assertOpen();
    this.counters.published++;
    if (this.shared) return this.share(message, undefined);
    return this.append(message, undefined).id;
  }

  /**
   * Sends a message to every connection of one client id (`?id=` by default). It is kept in the
   * history and replayed to that client id only.
   * @returns how many connections it reached now (with a backplane: how many of this hub's
   *   connections it will reach; those on other hubs are not counted).
   * @throws TypeError as {@link Hub.broadcast}, or for an empty client id.
   */
  broadcastTo(clientId: string, message: HubMessage<Events>): number {
    return this.send(message, { to: clientId }).consumers;
  }

  /**
   * What `broadcast` and `broadcastTo` do, answering both the event id and how many of this hub's
   * streams it reaches now (with a backplane, streams on other hubs are not counted). The publish
   * API answers with these.
   * @param options.to a client id: the message goes to that client id only, as `broadcastTo`.
   * @throws TypeError as {@link Hub.broadcast}, or for an empty `to`.
   */
  send(message: HubMessage<Events>, options: { to?: string } = {}): { id: string; consumers: number } {
    const { to } = options;
    if (to !== undefined && (typeof to !== 'string' || to === '')) throw new TypeError('ssehub: clientId must be a non-empty string');
    validateMessage(message, this.limits);
    this.assertOpen();
    const consumers = this.registry.recipients(to, to === undefined ? channelList((message as Message).channel) : undefined).size;
    this.counters.published++;
    const id = this.shared ? this.share(message, to) : this.append(message, to).id;
    return { id, consumers };
  }

  private share(message: Message, to: string | undefined): string {
    const id = this.shared!.share(message, to);
    // Its delivery here comes later, from the backplane: `latency` then counts from now.
    if (this.latencies && this.sharedAt.size < 100_000) this.sharedAt.set(id, performance.now());
    return id;
  }

  /** Gives a message its id and place in this hub's order, keeps it and delivers it. */
  private append(message: Message, to: string | undefined): Entry {
    const seq = this.ids.next();
    const id = message.id ?? this.ids.idOf(seq);
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
    this.history.push(entry);
    this.headId = entry.id;
    const { bytes, seq } = entry;
    const recipients = this.registry.recipients(entry.to, entry.channels);
    for (const c of recipients) this.delivery.entry(c, bytes, seq);
    this.counters.events++;
    this.counters.deliveries += recipients.size;
    if (this.listeners.size) this.listeners.notify(entry.message);
    if (this.latencies) this.timeDelivery(entry.id);
  }

  /** Notes an entry's publish time; once this turn's writes are done, `latency` reports each. */
  private timeDelivery(id: string): void {
    const at = this.sharedAt.get(id) ?? performance.now();
    this.sharedAt.delete(id);
    if (this.latencies!.push(at) > 1) return;
    // Queued after the delivery's own flush (scheduled by the first write of this turn), so it runs after it.
    queueMicrotask(() => {
      const times = this.latencies;
      if (!times) return;
      this.latencies = [];
      const now = performance.now();
      for (const t of times) this.events.emit('latency', now - t);
    });
  }

  // ---- connections ---------------------------------------------------------------------------

  /** True when `maxClients` connections are open: adapters refuse new streams then. */
  get full(): boolean {
    return this.registry.size >= this.config.maxClients;
  }

  /**
   * Registers a stream. Adapters call this after sending the headers; apps rarely need it.
   * The client is registered for live delivery first, then the replay (or gap fill) up to a snapshot
   * of the head is written, then what arrived meanwhile: no gap, no duplicate.
   * @throws SseHubError `HUB_CLOSED` after `close()`, `HUB_DRAINING` while draining, `HUB_FULL` past
   *   `maxClients`; TypeError for a channel name that breaks the channel rule (non-empty, no CR, LF
   *   or NUL); nothing is registered then.
   */
  connect(sink: Sink, params: ConnectParams = {}): Client {
    this.assertOpen();
    if (this.lifeState === 'draining') throw new SseHubError('ssehub: the hub is draining', 'HUB_DRAINING');
    if (this.full) throw new SseHubError(`ssehub: maxClients (${this.config.maxClients}) reached`, 'HUB_FULL');
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

    this.registry.add(c);
    this.counters.opened++;
    sink.onClose(() => this.remove(c, false));
    this.delivery.connected();
    this.lifetimes.track(c);

    // Snapshot the head: live entries after it queue while the prelude is built.
    const plan = this.replay.plan(lastEventId);
    c.liveAfter = this.ids.seq;
    const prelude = this.replay.prelude(c, plan);
    this.events.emit('connect', c);
    const start = () => this.delivery.start(c, prelude);
    if (this.shared && (lastEventId === undefined ? this.config.replayAll : plan.kind === 'gap' && this.replay.validId(lastEventId))) {
      // Not in the local cache (or a full replay): the shared history decides, asynchronously.
      this.shared.replay(c, lastEventId, prelude);
    } else if (plan.kind !== 'gap') {
      start();
    } else {
      this.replay.fillGap(c, lastEventId!, plan.reason, prelude, start);
    }
    return c;
  }

  /** Ends every stream of one client id. @returns how many were ended. */
  disconnect(clientId: string): number {
    return this.endAll(this.registry.ofClient(clientId));
  }

  /** Ends every stream subscribed to `channel` (their clients may reconnect). @returns how many were ended. */
  closeChannel(channel: string): number {
    return this.endAll(this.registry.ofChannel(channel));
  }

  /**
   * Ends every stream and keeps the hub open: clients reconnect with their Last-Event-ID and resume
   * from the history. @returns how many were ended.
   */
  disconnectAll(): number {
    return this.endAll(this.registry.all);
  }

  private endAll(set: ReadonlySet<Connection>): number {
    // A copy: `remove` deletes from the set being walked, and may delete the set itself.
    const list = [...set];
    for (const c of list) this.remove(c, true);
    return list.length;
  }

  private remove(c: Connection, endStream: boolean): void {
    if (c.state === 'closed') return;
    const wasCongested = c.state === 'congested';
    this.registry.delete(c);
    this.counters.closed++;
    this.delivery.forget(c);
    if (this.registry.size === 0) this.lifetimes.stop();
    if (endStream) {
      // A congested stream would never finish ending: drop it instead of waiting on a stalled peer.
      if (wasCongested) c.sink.destroy();
      else c.sink.end();
    }
    this.events.emit('disconnect', c);
  }

  private evict(c: Connection, reason: EvictReason): void {
    if (c.state === 'closed') return;
    this.counters.evictions[reason]++;
    this.events.emit('evict', c, reason);
    c.sink.destroy();
    this.remove(c, false);
  }

  // ---- observing -----------------------------------------------------------------------------

  /** Open connections. */
  get size(): number {
    return this.registry.size;
  }

  /** Open connections subscribed to `channel`. */
  channelSize(channel: string): number {
    return this.registry.ofChannel(channel).size;
  }

  /** Open connections of one client id (see {@link Hub.broadcastTo}). */
  clientSize(clientId: string): number {
    return this.registry.ofClient(clientId).size;
  }

  /** Channels with at least one subscriber. */
  channels(): string[] {
    return this.registry.channels();
  }

  /** The open connections. */
  clients(): Client[] {
    return [...this.registry.all];
  }

  /** The id of the newest broadcast, or undefined before the first. */
  get lastEventId(): string | undefined {
    return this.headId;
  }

  /** True after {@link Hub.close} (or once {@link Hub.drain} has ended every stream). */
  get closed(): boolean {
    return this.lifeState === 'closed';
  }

  /** `'open'`, `'draining'` (streams are being ended, new ones refused) or `'closed'`. */
  get state(): HubState {
    return this.lifeState;
  }

  /** The backplane's link state (`'connecting'`, `'connected'`, `'outage'`, `'catching-up'`), or undefined without one. */
  get backplaneState(): BackplaneState | undefined {
    return this.shared?.state;
  }

  /**
   * Every broadcast from now on: `for await (const m of hub.listen())`. Ends when the hub closes, the
   * signal aborts, or the loop breaks.
   * @throws SseHubError `LISTENER_BEHIND` from the iterator when the consumer falls `maxQueue`
   *   (default 10000) messages behind; `HUB_CLOSED` after `close()`.
   */
  listen(options: ListenOptions = {}): AsyncIterableIterator<Delivered> {
    this.assertOpen();
    return this.listeners.listen(options);
  }

  /**
   * Adds an event handler: `connect`, `disconnect`, `evict`, or `latency` (ms from a broadcast to its
   * being handed to the recipients' transports; with a backplane, from this hub's `broadcast()`, or
   * from its arrival for other hubs' events; measured only while someone listens).
   * @returns a function that removes it.
   */
  on<K extends keyof HubEvents>(event: K, handler: HubEvents[K]): () => void {
    if (event === 'latency') this.latencies ??= [];
    this.events.on(event, handler);
    // Through off(), so that removing the last latency handler this way stops the timing too.
    return () => this.off(event, handler);
  }

  /** Removes an event handler added with {@link Hub.on}. */
  off<K extends keyof HubEvents>(event: K, handler: HubEvents[K]): void {
    this.events.off(event, handler);
    if (event === 'latency' && !this.events.has('latency')) {
      this.latencies = undefined;
      this.sharedAt.clear();
    }
  }

  /**
   * Counts a refused or denied stream request; the adapter entry's handlers call it, so apps only
   * read the result in {@link Hub.stats}.
   */
  countRefusal(kind: RefusalKind): void {
    this.counters.refusals[kind]++;
  }

  /**
   * What the hub has done and holds, now: connections (open, opened, closed), events published,
   * delivered and replayed, bytes written, gaps, evictions and refusals by reason, queued bytes and
   * congested streams, and the backplane's state. Cheap: counters are kept as the hub works; only
   * `queuedBytes` walks the open streams.
   */
  stats(): HubStats {
    const k = this.counters;
    let queuedBytes = 0;
    for (const c of this.registry.all) queuedBytes += c.bufferedBytes;
    const stats: HubStats = {
      state: this.lifeState,
      connections: this.registry.size,
      connectionsOpened: k.opened,
      connectionsClosed: k.closed,
      eventsPublished: k.published,
      events: k.events,
      deliveries: k.deliveries,
      bytesWritten: k.bytes,
      eventsReplayed: k.replayed,
      gaps: { ...k.gaps },
      evictions: { ...k.evictions },
      refusals: { ...k.refusals },
      queuedBytes,
      congested: this.delivery.congestedCount,
      lastEventId: this.headId,
    };
    if (this.shared) stats.backplane = { state: this.shared.state, ...this.shared.backplane.stats?.() };
    return stats;
  }

  /**
   * Whether this instance should receive new streams (`ready`: open, not draining, and with a
   * backplane neither still joining nor in an outage longer than `maxOutage`) and whether it is
   * alive (`live`: not closed). A short outage keeps it ready: every instance shares the backplane,
   * so taking them all out of a load balancer at once would refuse every client, while streams opened
   * now get their events once the backplane is back.
   * @param options.maxOutage ms a backplane outage may last before the hub stops being ready. Default: 30000.
   * @returns `{ ready, live, state, backplane, reasons }`, `reasons` saying why it is not ready.
   */
  health(options: { maxOutage?: number } = {}): HubHealth {
    const maxOutage = options.maxOutage ?? 30_000;
    const reasons: string[] = [];
    if (this.lifeState !== 'open') reasons.push(`hub ${this.lifeState}`);
    const link = this.shared?.state;
    if (link === 'connecting') reasons.push('backplane connecting');
    const outage = this.shared?.outageMs() ?? 0;
    if (outage > maxOutage) reasons.push(`backplane unreachable for ${Math.round(outage / 1000)} s`);
    return { ready: reasons.length === 0, live: this.lifeState !== 'closed', state: this.lifeState, backplane: link, reasons };
  }

  // ---- life ----------------------------------------------------------------------------------

  /**
   * Shuts the hub down without stranding a client: new streams are refused at once with an answer
   * EventSource recovers from (a `200` that sets `retry:` and ends), the open streams are ended one
   * after another over `within` (default 5000) ms in random order (broadcasts still reach those not
   * yet ended), each client reconnects by itself with its Last-Event-ID (to another instance, or to
   * this app once it is back), then the hub closes. Given the HTTP `server`, it also stops accepting
   * at once and closes its connections, the last ones `grace` (default 1000) ms after the last stream
   * ended. Resolves when all that is done: within `within + grace` ms (plus the backplane's close).
   * Idempotent.
   * @example process.on('SIGTERM', () => hub.drain({ within: 5000, server }).then(() => process.exit(0)));
   */
  drain(options: DrainOptions = {}): Promise<void> {
    if (this.lifeState === 'open') this.lifeState = 'draining';
    const hub = this;
    this.draining ??= drain(
      {
        connections: () => [...this.registry.all],
        end: (c) => this.remove(c, true),
        close: () => this.close(),
        get closed() {
          return hub.closed;
        },
      },
      options,
    );
    return this.draining;
  }

  /**
   * Ends every stream at once, stops every timer and ends every `listen()` iteration. Idempotent.
   * Over HTTP/1 each stream's connection ends with it, so none stays pinned to a process that is
   * going away; prefer {@link Hub.drain} on a deploy, which spreads the reconnects.
   */
  async close(): Promise<void> {
    if (this.lifeState === 'closed') return;
    this.lifeState = 'closed';
    this.endAll(this.registry.all);
    this.listeners.endAll();
    this.delivery.stopTimers();
    this.lifetimes.stop();
    await this.shared?.close();
  }

  private assertOpen(): void {
    if (this.lifeState === 'closed') throw new SseHubError('ssehub: the hub is closed', 'HUB_CLOSED');
  }
}

/** A message's channel field as a list without repeats, or undefined for a global broadcast. */
function channelList(channel: string | readonly string[] | undefined): readonly string[] | undefined {
  if (channel === undefined) return undefined;
  return typeof channel === 'string' ? [channel] : [...new Set(channel)];
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
