/**
 * Codes carried by {@link SseHubError}, so callers can branch without parsing messages:
 * - `HUB_CLOSED`: the hub was closed (`close()`, or a finished `drain()`); nothing more is sent.
 * - `HUB_DRAINING`: the hub is draining and takes no new stream.
 * - `HUB_FULL`: `maxClients` streams are open.
 * - `LISTENER_BEHIND`: a `listen()` consumer fell `maxQueue` messages behind and was ended.
 * - `BACKPLANE_UNAVAILABLE`: the backplane cannot reach its shared log, or the log refuses its
 *   writes (reported once per outage; `cause` says why). Broadcasts wait meanwhile.
 * - `BACKPLANE_TIMEOUT`: the shared log did not answer within the backplane's timeout (a hung or
 *   overloaded server); seen as the `cause` of the `BACKPLANE_UNAVAILABLE` outage it starts.
 * - `BACKPLANE_OUTBOX_FULL`: a broadcast waiting for the shared log was dropped to bound memory.
 * - `BACKPLANE_REPLAY_FAILED`: reading the shared history for a reconnecting client failed; that
 *   client is told to resync instead of getting a partial replay.
 * - `BACKPLANE_UNPUBLISHED`: the backplane was closed with broadcasts the shared log never confirmed;
 *   they may never be delivered.
 */
export type SseHubErrorCode =
  | 'HUB_CLOSED'
  | 'HUB_DRAINING'
  | 'HUB_FULL'
  | 'LISTENER_BEHIND'
  | 'BACKPLANE_UNAVAILABLE'
  | 'BACKPLANE_TIMEOUT'
  | 'BACKPLANE_OUTBOX_FULL'
  | 'BACKPLANE_REPLAY_FAILED'
  | 'BACKPLANE_UNPUBLISHED';

/**
 * The one error class of ssehub for runtime trouble that is not a caller's bad argument
 * (bad arguments and options throw `TypeError`, as the platform does).
 */
export class SseHubError extends Error {
  override readonly name = 'SseHubError';
  constructor(
    message: string,
    readonly code: SseHubErrorCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
