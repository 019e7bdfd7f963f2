import type { Context, Next } from 'hono';
import { createPublishHandler, webAnswer, webPublishRequest, type Hub, type PublishOptions } from '@ssehub/core';

/** Options of {@link publish}: `authorize` receives Hono's `c`. */
export type PublishApiOptions = PublishOptions<Context>;

/**
 * Hono middleware serving the HTTP publish/admin API of `hub` under `options.prefix` (routes: see
 * `createPublishHandler` in @ssehub/core); other paths go to `next`.
 * @param options.token bearer token(s); or `authorize`, or `public: true`. One is required.
 * @param options.prefix where the API lives. Default: `''` (the root).
 * @example app.use('/api/*', publish(hub, { prefix: '/api', token: process.env.SSEHUB_TOKEN }));
 */
export function publish(hub: Hub<any>, options: PublishApiOptions) {
  const handle = createPublishHandler(hub, options);
  return async function publishHandler(c: Context, next: Next): Promise<Response | void> {
    const answer = await handle(webPublishRequest(c, c.req.raw));
    if (!answer) return next();
    return webAnswer(answer, c.req.method === 'HEAD');
  };
}
