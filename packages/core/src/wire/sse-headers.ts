/**
 * The response headers of every stream (and of a refusal EventSource can recover from).
 * `no-transform` also keeps `compression` middleware off the stream; `X-Accel-Buffering: no` keeps
 * nginx from buffering it.
 */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
});
