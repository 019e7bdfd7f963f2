import type { Context, Next } from 'koa';
import { admitStream, checkStreamOptions, nodeStreamRequest, sendNodeAnswer, serveNode, type Hub, type StreamOptions } from '@ssehub/core';

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
    // The peer may have left while `authorize` ran: registering it now would leak a connection.
    if (ctx.res.destroyed || ctx.res.socket?.destroyed) return;
    if (admission.kind === 'answer') sendNodeAnswer(ctx.res, admission.answer);
    else serveNode(hub, ctx.res, admission.params, { ...options, headers: admission.headers, gzip: admission.gzip });
  };
}
export { publish } from './publish';
export type { PublishApiOptions } from './publish';
