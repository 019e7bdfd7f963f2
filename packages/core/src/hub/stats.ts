import type { BackplaneState } from '../backplane';
import type { HubState } from './hub';
import type { EvictReason } from './options';

/** Why a stream was refused or denied, as `hub.stats().refusals` counts them. */
export type RefusalKind = 'hub-full' | 'client-limit' | 'shutting-down' | 'unauthorized' | 'forbidden';

/**
 * Why a client's Last-Event-ID could not be honoured from the history (`gaps` in the stats):
 * `expired` (older than the history), `unknown-id`, `restart` (an earlier process's id; with no
 * `initMessages` everything this process published is replayed after the notice), `unavailable`
 * (the backplane could not answer), `backplane-epoch` and `backplane-behind` (the shared log lost
 * history under connected clients: counted once per client told).
 */
export type GapKind = 'expired' | 'unknown-id' | 'restart' | 'unavailable' | 'backplane-epoch' | 'backplane-behind';

/** A snapshot of what a hub has done and holds: `hub.stats()`. Counters only grow; gauges are now. */
export interface HubStats {
  /** `'open'`, `'draining'` or `'closed'`. */
  state: HubState;
  /** Open streams now (gauge). */
  connections: number;
  /** Streams opened since the hub was created (counter; with `connectionsClosed` it shows churn). */
  connectionsOpened: number;
  /** Streams closed since the hub was created, for any reason (counter). */
  connectionsClosed: number;
  /** Broadcasts made through this hub (`broadcast`, `broadcastTo`, `send`, the publish API). */
  eventsPublished: number;
  /** Events this hub put in its order and delivered: its own, and with a backplane every hub's. */
  events: number;
  /** Events queued to streams (one per recipient). */
  deliveries: number;
  /** Bytes handed to the transports (events, replays, heartbeats). */
  bytesWritten: number;
  /** History entries sent to reconnecting clients. */
  eventsReplayed: number;
  /** Gaps by reason (see {@link GapKind}); `filled` counts those `initMessages` filled. */
  gaps: Record<GapKind | 'filled', number>;
  /** Evictions by reason. */
  evictions: Record<EvictReason, number>;
  /** Refused or denied stream requests by reason (see {@link RefusalKind}). */
  refusals: Record<RefusalKind, number>;
  /** Bytes waiting for clients now: queued in the hub plus buffered in the transports (gauge). */
  queuedBytes: number;
  /** Streams whose transport asked the hub to wait, now (gauge). */
  congested: number;
  /** The id of the newest event, if any. */
  lastEventId: string | undefined;
  /** With a backplane: its link state, broadcasts waiting to be published, and how far behind the shared log this hub is. */
  backplane?: { state: BackplaneState; outbox?: number; behind?: number };
}

/** The counters a hub's parts increment: plain fields, so counting costs an addition and nothing else. */
export class Counters {
  opened = 0;
  closed = 0;
  published = 0;
  events = 0;
  deliveries = 0;
  bytes = 0;
  replayed = 0;
  readonly gaps: Record<GapKind | 'filled', number> = {
    expired: 0,
    'unknown-id': 0,
    restart: 0,
    unavailable: 0,
    'backplane-epoch': 0,
    'backplane-behind': 0,
    filled: 0,
  };
  readonly evictions: Record<EvictReason, number> = { timeout: 0, buffer: 0 };
  readonly refusals: Record<RefusalKind, number> = {
    'hub-full': 0,
    'client-limit': 0,
    'shutting-down': 0,
    unauthorized: 0,
    forbidden: 0,
  };

  /** Counts a gap by its reason (reasons outside {@link GapKind} are not counted). */
  gap(reason: string, n = 1): void {
    // Own keys only: `in` would take 'toString' and turn the counter into a string.
    if (Object.hasOwn(this.gaps, reason)) this.gaps[reason as GapKind] += n;
  }
}
