import type { Context, Next } from 'koa';
import { connectParams, nodeRequestParts, serveNode, type Hub, type StreamOptions } from '@ssehub/core';

/** Options of {@link sse}: resolvers receive Koa's `ctx`. */
export type SseOptions = StreamOptions<Context>;

/**
 * Koa middleware (for `@koa/router` or `app.use`) that turns a GET into an SSE stream of `hub`.
 * It takes the raw response (`ctx.respond = false`), so Koa neither types the body as
 * `application/octet-stream` nor holds the headers back until the first chunk, and `koa-compress`
 * does not buffer it.
 * @example router.get('/events', sse(hub));
 */
export function sse(hub: Hub, options: SseOptions = {}) {
  return async function sseMiddleware(ctx: Context, next?: Next): Promise<void> {
    if (ctx.method !== 'GET') {
      if (next) await next();
      return;
    }
    const params = connectParams(ctx, nodeRequestParts(ctx.req), options);
    ctx.respond = false;
    serveNode(hub, ctx.res, params, options);
  };
}
