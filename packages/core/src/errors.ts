/**
 * Codes carried by {@link SseHubError}, so callers can branch without parsing messages:
 * - `HUB_CLOSED`: the hub was closed (`close()`, or a finished `drain()`); nothing more is sent.
 * - `HUB_DRAINING`: the hub is draining and takes no new stream.
 * - `HUB_FULL`: `maxClients` streams are open.
 * - `LISTENER_BEHIND`: a `listen()` consumer fell `maxQueue` messages behind and was ended.
 * - `BACKPLANE_UNAVAILABLE`: the backplane cannot reach its shared log (reported once per outage).
 * - `BACKPLANE_OUTBOX_FULL`: a broadcast waiting for the shared log was dropped to bound memory.
 */
export type SseHubErrorCode =
  | 'HUB_CLOSED'
  | 'HUB_DRAINING'
  | 'HUB_FULL'
  | 'LISTENER_BEHIND'
  | 'BACKPLANE_UNAVAILABLE'
  | 'BACKPLANE_OUTBOX_FULL';

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
