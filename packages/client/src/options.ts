import type { StreamError } from './stream-error';

/** What an `onError` handler answers; nothing (or `{}`) keeps the default for that error. */
export interface StreamErrorResult {
  /**
   * Stop now and for good, as if `close()` had been called: no retry, whatever `retry` says.
   * Default: `false`.
   */
  closeNow?: boolean;
  /**
   * Retry after this error (`true`) or stop (`false`). Default: `true` for network errors and a
   * hub's refusal (after its `Retry-After`), `false` for a bad status or Content-Type, as the spec
   * says. `closeNow` wins over it.
   */
  retry?: boolean;
}

/** Where the stream reports what it does not hand to `onError`: a throwing listener or handler. */
export interface StreamLogger {
  warn(...args: unknown[]): void;
}

/** Options of {@link subscribe}; all optional. */
export interface SubscribeOptions {
  /**
   * Sent as `Last-Event-ID` on the first request too, so a new stream resumes where an old one
   * stopped (donovanhide's `Subscribe(url, lastEventId)`). Default: none.
   */
  lastEventId?: string;
  /** Extra request headers, `Authorization` say. `Accept` and `Last-Event-ID` are the stream's. Default: none. */
  headers?: Record<string, string>;
  /** Initial reconnect delay in ms; the server's `retry:` field replaces it. Default: `3000`, as browsers. */
  retry?: number;
  /** Cap in ms for the backoff on failures in a row (never below the current `retry`). Default: `30000`. */
  maxRetry?: number;
  /**
   * Called on every network error and bad response, before the stream decides whether to retry;
   * its answer can stop it (`{ closeNow: true }`, on a 401 say) or retry a bad status
   * (`{ retry: true }`, on a 503 say). A stream that ends normally is not an error. Default: none.
   */
  onError?: (error: StreamError) => StreamErrorResult | void;
  /** Receives what has nowhere else to go: listeners and handlers that throw. Default: silent. */
  logger?: StreamLogger;
  /** The `fetch` to use, with its own agent or cookies. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /**
   * Ms without a byte (headers, events or heartbeat comments) after which the connection counts
   * as dead: it is dropped and retried as a network error (`kind: 'network'`). Set it
   * above the server's heartbeat: 45000 against a hub's default 15000 ms. Default: `0` (off).
   */
  readTimeout?: number;
  /** Closes the stream when aborted. Default: none. */
  signal?: AbortSignal;
  /**
   * Events an async iterator may hold unread before the stream stops reading the body (so TCP
   * pushes back on the server). A chunk already read is parsed whole, so a queue can pass it by
   * one chunk's events. Listeners are not buffered. Default: `100`.
   */
  highWaterMark?: number;
}
