import type { Sink } from '../sink';

/** A connected stream, as the hub shows it to the app (in events and `hub.clients()`). */
export interface Client {
  /** Unique per connection, assigned by the hub. */
  readonly id: string;
  /** The app's identity for this connection (`?id=` by default); `broadcastTo` addresses it. */
  readonly clientId: string | undefined;
  /** The channels this connection receives besides global broadcasts. */
  readonly channels: ReadonlySet<string>;
  /** The Last-Event-ID the connection arrived with, if any. */
  readonly lastEventId: string | undefined;
  /** `Date.now()` when it connected. */
  readonly connectedAt: number;
  /** Bytes waiting for this client: queued in the hub plus buffered in the transport. */
  readonly bufferedBytes: number;
  /** True once the stream has ended, for whatever reason. */
  readonly closed: boolean;
}

/**
 * Where a connection is:
 * - `preparing`: registered for live delivery while its prelude (retry, replay or gap fill) is being
 *   built; live entries wait in its queue;
 * - `live`: writes go to the transport as they come (once per event-loop turn);
 * - `congested`: the transport asked the hub to wait; entries queue until it drains;
 * - `closed`: gone, for whatever reason; nothing is queued or written any more.
 */
export type ConnectionState = 'preparing' | 'live' | 'congested' | 'closed';

/**
 * `liveAfter` while a replay from a backplane is deciding where this connection starts: no live
 * entry is queued for it until the replay sets the real position (entries are collected by the replay).
 */
export const UNTIL_REPLAYED = Number.POSITIVE_INFINITY;

/** The hub's private state for one connection. Only the hub's parts mutate it. */
export class Connection implements Client {
  state: ConnectionState = 'preparing';
  /** Frames waiting to be written, in order. */
  pending: Uint8Array[] = [];
  pendingBytes = 0;
  /** In the delivery's list of connections to write this turn. */
  queued = false;
  /** `Date.now()` when the transport last asked the hub to wait (state `congested`). */
  congestedSince = 0;
  /** Timeouts in a row while congested. */
  failures = 0;
  /** Live entries with a seq at or below this are covered by the replay, so they are not queued again. */
  liveAfter = 0;
  readonly connectedAt = Date.now();
  /** When `maxLifetime` ends this stream (`Date.now()` time); Infinity: never. */
  endsAt = Infinity;

  constructor(
    readonly id: string,
    readonly sink: Sink,
    readonly clientId: string | undefined,
    readonly channels: ReadonlySet<string>,
    readonly lastEventId: string | undefined,
  ) {}

  get closed(): boolean {
    return this.state === 'closed';
  }

  get bufferedBytes(): number {
    return this.pendingBytes + (this.state === 'closed' ? 0 : this.sink.bufferedBytes);
  }
}
