import type { Context, Next } from 'koa';
import { createPublishHandler, type Hub, type PublishOptions } from '@ssehub/core/adapter';
import { nodePublishRequest } from '@ssehub/core/adapter/node';

/** Options of {@link publish}: `authorize` receives Koa's `ctx`. */
export type PublishApiOptions = PublishOptions<Context>;

/**
 * Koa middleware serving the HTTP publish/admin API of `hub` under `options.prefix` (routes: see the
 * root README); other paths go to `next`. A body that a body parser already put on
 * `ctx.request.body` is used as it is. The answer goes through Koa (`ctx.status`, `ctx.body`), so
 * Koa middleware around it sees it.
 * @param options.token bearer token(s); or `authorize`, or `public: true`. One is required.
 * @param options.prefix where the API lives. Default: `''` (the root).
 * @throws TypeError now when none of `token`, `authorize` and `public: true` is given.
 * @example app.use(publish(hub, { prefix: '/api', token: process.env.SSEHUB_TOKEN }));
 */
export function publish(hub: Hub<any>, options: PublishApiOptions) {
  const handle = createPublishHandler(hub, options);
  return async function publishMiddleware(ctx: Context, next: Next): Promise<void> {
    const parsed = (ctx.request as { body?: unknown }).body;
    const answer = await handle(nodePublishRequest(ctx, ctx.req, ctx.path, parsed));
    if (!answer) return next();
    ctx.status = answer.status;
    ctx.set(answer.headers);
    ctx.body = answer.body;
  };
}
