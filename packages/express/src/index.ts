import type { NextFunction, Request, Response } from 'express';
import { nodeStreamHandler } from '@ssehub/core/adapter/node';
import type { Hub, StreamOptions } from '@ssehub/core/adapter';

/** Options of {@link sse}: resolvers receive Express's `req`. Every option and its default: `StreamOptions` in @ssehub/core. */
export type SseOptions = StreamOptions<Request>;

/**
 * Express middleware that turns a GET into an SSE stream of `hub`, and answers CORS preflights when
 * `options.cors` is set. Other methods pass to `next()`. Admission (`authorize`, CORS, limits,
 * refusals) and the stream run in core.
 * @param options.clientId default: the `id` query parameter.
 * @param options.channels default: every `channel` query parameter.
 * @throws TypeError now for a bad option.
 * @example app.use('/events', sse(hub));
 */
export function sse(hub: Hub<any>, options: SseOptions = {}) {
  const serve = nodeStreamHandler(hub, options);
  return function sseMiddleware(req: Request, res: Response, next: NextFunction): void {
    serve(req, req, res).then(
      (served) => {
        if (!served) next();
      },
      (err: unknown) => {
        // A resolver or authorize hook that threw: Express's error handling answers.
        if (!res.headersSent) next(err);
        else res.destroy(err as Error);
      },
    );
  };
}

export { publish } from './publish';
export type { PublishApiOptions } from './publish';
