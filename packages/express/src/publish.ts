import type { NextFunction, Request, Response } from 'express';
import { nodePublishHandler } from '@ssehub/core/adapter/node';
import type { Hub, PublishOptions } from '@ssehub/core/adapter';

/** Options of {@link publish}: `authorize` receives Express's `req`. */
export type PublishApiOptions = PublishOptions<Request>;

/**
 * Express middleware serving the HTTP publish/admin API of `hub` (routes: see the root README).
 * Mount it on a path: `req.path` below the mount point picks the route. A body that
 * `express.json()` already parsed is used as it is.
 * @param options.token bearer token(s); or `authorize`, or `public: true`. One is required.
 * @param options.maxBodyBytes default: 65536.
 * @throws TypeError now when none of `token`, `authorize` and `public: true` is given.
 * @example app.use('/api', publish(hub, { token: process.env.SSEHUB_TOKEN }));
 */
export function publish(hub: Hub<any>, options: PublishApiOptions) {
  const serve = nodePublishHandler(hub, options);
  return function publishMiddleware(req: Request, res: Response, next: NextFunction): void {
    serve(req, req, res, { path: req.path, parsedBody: req.body }).then((served) => {
      if (!served) next();
    }, next);
  };
}
