import type { Delivered } from './message';

/**
 * The contract between a hub and a backplane: a shared, ordered log that makes hubs in several
 * processes act as one. The in-memory hub has none; `@ssehub/redis` implements one.
 *
 * The hub hands every broadcast to {@link Backplane.publish} instead of delivering it at once. The
 * backplane gives it a position in one global sequence and calls {@link BackplaneHandler.deliver}
 * on every hub (the publishing one included) in that order, so every hub delivers the same events
 * in the same order and a client can resume on any hub. There is no local shortcut: while the log is
 * unreachable a broadcast waits, and no hub delivers it (its own hub neither) until the log has
 * ordered it, so an outage costs latency, never the common order.
 */

/** One broadcast as it crosses the backplane: the wire fields, already validated by the hub. */
export interface BackplaneRecord {
  /** Unique per broadcast across every hub (the hub makes it); equals `id` unless the app chose the id. */
  readonly uid: string;
  /** The event id clients see. */
  readonly id: string;
  /** The data exactly as it goes on the wire (a string verbatim, anything else as JSON). */
  readonly data: string;
  /** True when `data` is JSON of a non-string value: `listen()` consumers get it parsed. */
  readonly json: boolean;
  readonly event?: string;
  readonly retry?: number;
  /**
   * Only subscribers of this channel receive it. Several channels travel joined by LF, which no
   * channel name may contain (see {@link sharedChannels}).
   */
  readonly channel?: string;
  /** Only connections of this client id receive it (`broadcastTo`). */
  readonly to?: string;
}

/** A record as the backplane hands it back, with its place in the global sequence. */
export interface BackplaneEntry extends BackplaneRecord {
  /**
   * Position in the shared sequence: strictly increasing, and gap-free until a reset. `@ssehub/redis`
   * always sets it (it delivers nothing the log has not ordered). It stays optional for a backplane
   * that cannot order some entry; the hub then delivers it without moving its position, and
   * resuming across hubs is no longer exact for it.
   */
  readonly pos?: number;
}

/** Why the shared history could not serve a replay. */
export type BackplaneGapReason = 'unknown-id' | 'expired' | 'unavailable';

/** The answer to {@link Backplane.replay}. */
export type BackplaneReplay =
  | {
      kind: 'replay';
      /** The position of the event replayed after (0 when reading from the oldest kept). */
      from: number;
      /** The entries with `from < pos <= upTo`, oldest first; empty when `from >= upTo`. */
      entries: BackplaneEntry[];
    }
  | { kind: 'gap'; reason: BackplaneGapReason };

/**
 * A backplane's link to the shared log: `'connecting'` before the first contact, `'connected'` while
 * it is in step, `'outage'` while the log is unreachable, `'catching-up'` after an outage while it
 * resends what was published meanwhile and reads what it missed.
 */
export type BackplaneState = 'connecting' | 'connected' | 'outage' | 'catching-up';

/** What a hub gives its backplane when it attaches. */
export interface BackplaneHandler {
  /** One entry of the global sequence, in order. */
  deliver(entry: BackplaneEntry): void;
  /**
   * The sequence is at `pos` without anything to deliver here: `@ssehub/redis` calls it once, when it
   * first joins, with the head it starts reading after (what lies before is served by replay).
   */
  advance(pos: number): void;
  /**
   * The shared history was reset (a new epoch) or this hub fell further behind than it keeps:
   * events may have been lost, so connected clients are told to resync and caches are dropped.
   * Delivery resumes after position `pos`.
   */
  reset(reason: 'epoch' | 'behind', pos: number): void;
  /**
   * Runtime trouble (an outage, once per outage; a broadcast dropped from a full outbox; a failed
   * replay); the hub forwards it to its `onError`.
   */
  error(err: unknown): void;
  /**
   * The link changed state; the hub logs it (an outage at `warn`, the recovery at `info`) and keeps it
   * for its health and stats. `detail` says why (the error of an outage) and how much waits.
   */
  state(state: BackplaneState, detail?: { error?: unknown; outbox?: number }): void;
}

/**
 * A shared log for hubs in several processes. Implementations must deliver every record exactly
 * once per hub, in one order common to every hub, and must never block or throw from `publish`.
 */
export interface Backplane {
  /** Called once by the hub it belongs to, before any other method. A backplane serves one hub. */
  attach(handler: BackplaneHandler): void;
  /**
   * Shares a record. Returns at once; the record comes back through `deliver` on every hub, this one
   * included, once the log has ordered it. While the log is unreachable it waits (in a bounded outbox;
   * what overflows is dropped and reported through `error`) and is shared when the log returns, in
   * publish order; meanwhile no hub delivers it.
   */
  publish(record: BackplaneRecord): void;
  /**
   * Reads the shared history after `after` up to and including position `upTo`, in bounded reads.
   * `after` is an event id (a client's Last-Event-ID), a position, or undefined for the oldest kept.
   * An id the history cannot place is a gap, never a partial replay.
   */
  replay(after: string | number | undefined, upTo: number): Promise<BackplaneReplay>;
  /**
   * What the backplane can say about its progress, for `hub.stats()`: broadcasts of this hub waiting
   * to be published (`outbox`) and how many entries of the shared log this hub has yet to apply
   * (`behind`, as far as the backplane knows). Optional.
   */
  stats?(): { outbox?: number; behind?: number };
  /**
   * Stops reading and releases connections. Called by `hub.close()`. A backplane may first give the
   * records still waiting a short, bounded chance to be shared; what it drops is reported through `error`.
   */
  close(): Promise<void>;
}

/** The record a hub shares for one broadcast. `uid` is unique across hubs; the id defaults to it. */
export function toRecord(
  message: { data: unknown; event?: string; id?: string; retry?: number; channel?: string | readonly string[] },
  to: string | undefined,
  uid: string,
  data: string,
): BackplaneRecord {
  const record: { -readonly [K in keyof BackplaneRecord]: BackplaneRecord[K] } = {
    uid,
    id: message.id ?? uid,
    data,
    json: typeof message.data !== 'string',
  };
  if (message.event !== undefined) record.event = message.event;
  if (message.retry !== undefined) record.retry = message.retry;
  if (to !== undefined) record.to = to;
  else if (message.channel !== undefined) record.channel = typeof message.channel === 'string' ? message.channel : message.channel.join('\n');
  return record;
}

/**
 * The message `listen()` consumers see for an entry that crossed the backplane. JSON data is parsed
 * on first read only, so a hub without listeners never parses what it relays.
 */
export function toDelivered(e: BackplaneEntry): Delivered {
  let parsed: { value: unknown } | undefined;
  const m: Delivered = {
    id: e.id,
    get data(): unknown {
      if (!e.json) return e.data;
      parsed ??= { value: JSON.parse(e.data) };
      return parsed.value;
    },
  };
  if (e.event !== undefined) m.event = e.event;
  if (e.retry !== undefined) m.retry = e.retry;
  if (e.to !== undefined) m.clientId = e.to;
  else if (e.channel !== undefined) {
    const channels = sharedChannels(e.channel)!;
    m.channel = channels.length === 1 ? channels[0] : channels;
  }
  return m;
}

/** The channels of a shared record's `channel` field (LF-joined when several), or undefined. */
export function sharedChannels(channel: string | undefined): readonly string[] | undefined {
  if (channel === undefined) return undefined;
  return channel.includes('\n') ? [...new Set(channel.split('\n'))] : [channel];
}
