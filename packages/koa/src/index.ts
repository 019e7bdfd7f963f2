import type { Context, Next } from 'koa';
import { admitStream, checkStreamOptions, nodeStreamRequest, respondNode, type Hub, type StreamOptions } from '@ssehub/core';

/** Options of {@link sse}: resolvers receive Koa's `ctx`. */
export type SseOptions = StreamOptions<Context>;

/**
 * Koa middleware (for `@koa/router` or `app.use`) that turns a GET into an SSE stream of `hub`.
 * It takes the raw response (`ctx.respond = false`), so Koa neither types the body as
 * `application/octet-stream` nor holds the headers back until the first chunk, and `koa-compress`
 * does not buffer it.
 * With `options.cors`, mount it for OPTIONS too (`router.options('/events', sse(hub, options))`) so
 * preflights are answered. `authorize`, CORS and limits run in core before anything is registered.
 * @example router.get('/events', sse(hub));
 */
export function sse(hub: Hub, options: SseOptions = {}) {
  checkStreamOptions(options);
  return async function sseMiddleware(ctx: Context, next?: Next): Promise<void> {
    const admission = await admitStream(hub, ctx, nodeStreamRequest(ctx.req), options);
    if (admission.kind === 'pass') {
      if (next) await next();
      return;
    }
    ctx.respond = false;
    await respondNode(hub, ctx.res, admission, options);
  };
}
export { publish } from './publish';
export type { PublishApiOptions } from './publish';
