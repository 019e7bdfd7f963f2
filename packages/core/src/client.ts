import type { Sink } from './sink';

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

/** The hub's private state for one connection. Only the hub mutates it. */
export class Connection implements Client {
  /** Frames waiting to be written, in order. */
  pending: Uint8Array[] = [];
  pendingBytes = 0;
  /** In the hub's list of connections to flush this turn. */
  queued = false;
  /** False while the prelude (retry, replay, gap fill) is being assembled; live frames wait in `pending`. */
  ready = false;
  /** The transport reported backpressure and has not drained yet. */
  congested = false;
  congestedSince = 0;
  /** Timeouts in a row while congested. */
  failures = 0;
  /** Live entries with seq at or below this were covered by the replay; they are skipped. */
  skipUpTo = 0;
  closed = false;
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

  get bufferedBytes(): number {
    return this.pendingBytes + (this.closed ? 0 : this.sink.bufferedBytes);
  }
}
