import type { Context, Next } from 'koa';
import { nodeStreamHandler } from '@ssehub/core/adapter/node';
import type { Hub, StreamOptions } from '@ssehub/core/adapter';

/** Options of {@link sse}: resolvers receive Koa's `ctx`. Every option and its default: `StreamOptions` in @ssehub/core. */
export type SseOptions = StreamOptions<Context>;

/**
 * Koa middleware (for `@koa/router` or `app.use`) that turns a GET into an SSE stream of `hub`.
 * It answers on the raw response (`ctx.respond = false`), so Koa neither types the body as
 * `application/octet-stream` nor holds the headers back until the first chunk, and `koa-compress`
 * does not buffer it. With `options.cors`, mount it for OPTIONS too
 * (`router.options('/events', sse(hub, options))`) so preflights are answered.
 * @throws TypeError now for a bad option.
 * @example router.get('/events', sse(hub));
 */
export function sse(hub: Hub<any>, options: SseOptions = {}) {
  const serve = nodeStreamHandler(hub, options);
  return async function sseMiddleware(ctx: Context, next?: Next): Promise<void> {
    if (await serve(ctx, ctx.req, ctx.res)) {
      // Core answered on the raw response: Koa must not touch it.
      ctx.respond = false;
      return;
    }
    if (next) await next();
  };
}

export { publish } from './publish';
export type { PublishApiOptions } from './publish';
