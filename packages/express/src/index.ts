import type { NextFunction, Request, Response } from 'express';
import { checkStreamOptions, handleNodeStream, type Hub, type StreamOptions } from '@ssehub/core';

/** Options of {@link sse}: resolvers receive Express's `req`. */
export type SseOptions = StreamOptions<Request>;

/**
 * Express middleware that turns a GET into an SSE stream of `hub`, and answers CORS preflights when
 * `options.cors` is set. Other methods pass to `next()`. `authorize`, CORS and limits run in core.
 * @param options.clientId default: the `id` query parameter.
 * @param options.channels default: every `channel` query parameter.
 * @example app.use('/events', sse(hub));
 */
export function sse(hub: Hub, options: SseOptions = {}) {
  checkStreamOptions(options);
  return function sseMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (req.method !== 'GET' && req.method !== 'OPTIONS') return next();
    handleNodeStream(hub, req, req, res, options).then(
      (result) => {
        if (result === 'pass') next();
      },
      (err: unknown) => {
        // A resolver or authorize hook that throws, or a hub closed under us: Express's error handling answers.
        if (!res.headersSent) next(err);
        else res.destroy(err as Error);
      },
    );
  };
}
export { publish } from './publish';
export type { PublishApiOptions } from './publish';
