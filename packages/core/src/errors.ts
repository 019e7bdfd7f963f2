/** Codes carried by {@link SseHubError}, so callers can branch without parsing messages. */
export type SseHubErrorCode = 'HUB_CLOSED' | 'HUB_DRAINING' | 'HUB_FULL' | 'INVALID_OPTION' | 'INTERNAL';

/**
 * The one error class of ssehub for runtime trouble that is not a caller's bad argument
 * (bad arguments throw `TypeError`, as the platform does).
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
