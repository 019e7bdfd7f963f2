import type { Context } from 'hono';
import { checkStreamOptions, handleWebStream, type Hub, type StreamOptions } from '@ssehub/core';

/** Options of {@link sse}: resolvers receive Hono's `c`. */
export type SseOptions = StreamOptions<Context>;

/**
 * A Hono handler that answers with an SSE stream of `hub`, on a Web `ReadableStream`, so it runs
 * wherever Hono does. The stream is released when the request aborts or the body is cancelled.
 * With `options.cors`, mount it for OPTIONS too (`app.on(['GET', 'OPTIONS'], '/events', sse(hub, options))`)
 * so preflights are answered; other methods get 405. `authorize`, CORS and limits run in core.
 * @example app.get('/events', sse(hub));
 */
export function sse(hub: Hub, options: SseOptions = {}) {
  checkStreamOptions(options);
  return async function sseHandler(c: Context): Promise<Response> {
    const res = await handleWebStream(hub, c, c.req.raw, options);
    return res ?? new Response(null, { status: 405, headers: { Allow: options.cors ? 'GET, OPTIONS' : 'GET' } });
  };
}
export { publish } from './publish';
export type { PublishApiOptions } from './publish';
