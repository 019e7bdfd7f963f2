/**
 * What went wrong: `'network'` (the request or the body failed: refused, reset, DNS...),
 * `'status'` (an answer other than 200 or 204), `'content-type'` (a 200 that is not
 * `text/event-stream`) or `'refused'` (a hub that is full or going away answered with a stream that
 * ends at once and names its reason in `X-SSEHub-Refused`: come back after `retryAfter`).
 */
export type StreamErrorKind = 'network' | 'status' | 'content-type' | 'refused';

/** The fields of a {@link StreamError} besides its message. */
export interface StreamErrorInit {
  kind: StreamErrorKind;
  url: string;
  status?: number;
  retryAfter?: number;
  reason?: string;
  cause?: unknown;
}

/**
 * A failed connection attempt or a broken stream, as `onError` and `'error'` listeners receive it.
 * `kind` says what failed: the network, the response's status or Content-Type (with `status`), or a
 * hub's refusal (with `reason` and `retryAfter`).
 */
export class StreamError extends Error {
  override readonly name = 'StreamError';
  /** What failed: see {@link StreamErrorKind}. */
  readonly kind: StreamErrorKind;
  /** The URL the stream reads. */
  readonly url: string;
  /** The HTTP status, for `'status'` and `'content-type'` errors. */
  readonly status: number | undefined;
  /** The response's `Retry-After`, in ms (seconds or an HTTP date), when it had a valid one. */
  readonly retryAfter: number | undefined;
  /** For `'refused'`: the hub's reason (`'hub-full'`, `'client-limit'`, `'shutting-down'`). */
  readonly reason: string | undefined;

  constructor(message: string, init: StreamErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.url = init.url;
    this.status = init.status;
    this.retryAfter = init.retryAfter;
    this.reason = init.reason;
  }
}

/** Reads `Retry-After` as ms: a number of seconds or an HTTP date; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Every HTTP-date names a month; Date.parse alone would read '-1' or '2030' as years.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
