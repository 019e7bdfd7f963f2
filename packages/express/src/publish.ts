import type { NextFunction, Request, Response } from 'express';
import { createPublishHandler, nodePublishRequest, sendNodeAnswer, type Hub, type PublishOptions } from '@ssehub/core';

/** Options of {@link publish}: `authorize` receives Express's `req`. */
export type PublishApiOptions = PublishOptions<Request>;

/**
 * Express middleware serving the HTTP publish/admin API of `hub` (routes: see `createPublishHandler`
 * in @ssehub/core). Mount it on a path: `req.path` below the mount point picks the route. A body that
 * `express.json()` already parsed is used as it is.
 * @param options.token bearer token(s); or `authorize`, or `public: true`. One is required.
 * @param options.maxBodyBytes default: 65536.
 * @example app.use('/api', publish(hub, { token: process.env.SSEHUB_TOKEN }));
 */
export function publish(hub: Hub<any>, options: PublishApiOptions) {
  const handle = createPublishHandler(hub, options);
  return function publishMiddleware(req: Request, res: Response, next: NextFunction): void {
    handle(nodePublishRequest(req, req, req.path, req.body)).then((answer) => {
      if (!answer) next();
      else sendNodeAnswer(res, answer, req.method === 'HEAD');
    }, next);
  };
}
