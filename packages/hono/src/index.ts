import type { Context } from 'hono';
import { connectParams, serveWeb, type Hub, type StreamOptions } from '@ssehub/core';

/** Options of {@link sse}: resolvers receive Hono's `c`. */
export type SseOptions = StreamOptions<Context>;

/**
 * A Hono handler that answers with an SSE stream of `hub`, on a Web `ReadableStream`, so it runs
 * wherever Hono does. The stream is released when the request aborts or the body is cancelled.
 * @example app.get('/events', sse(hub));
 */
export function sse(hub: Hub, options: SseOptions = {}) {
  return function sseHandler(c: Context): Response {
    const query = new URL(c.req.url).searchParams;
    const params = connectParams(c, { query, lastEventIdHeader: c.req.header('last-event-id') }, options);
    return serveWeb(hub, params, { ...options, signal: c.req.raw.signal });
  };
}
