import type { Context, Next } from 'hono';
import { webPublishHandler, type Hub, type PublishOptions } from '@ssehub/core/adapter';

/** Options of {@link publish}: `authorize` receives Hono's `c`. */
export type PublishApiOptions = PublishOptions<Context>;

/**
 * Hono middleware serving the HTTP publish/admin API of `hub` under `options.prefix` (routes: see
 * the root README); other paths go to `next`.
 * @throws TypeError now when none of `token`, `authorize` and `public: true` is given.
 * @param options.token bearer token(s); or `authorize`, or `public: true`. One is required.
 * @param options.prefix where the API lives. Default: `''` (the root).
 * @example app.use('/api/*', publish(hub, { prefix: '/api', token: process.env.SSEHUB_TOKEN }));
 */
export function publish(hub: Hub<any>, options: PublishApiOptions) {
  const serve = webPublishHandler(hub, options);
  return async function publishHandler(c: Context, next: Next): Promise<Response | void> {
    return (await serve(c, c.req.raw)) ?? next();
  };
}
