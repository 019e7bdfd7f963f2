import type { NextFunction, Request, Response } from 'express';
import { connectParams, nodeRequestParts, serveNode, type Hub, type StreamOptions } from '@ssehub/core';

/** Options of {@link sse}: resolvers receive Express's `req`. */
export type SseOptions = StreamOptions<Request>;

/**
 * Express middleware that turns a GET into an SSE stream of `hub`. Other methods pass to `next()`.
 * @param options.clientId default: the `id` query parameter.
 * @param options.channels default: every `channel` query parameter.
 * @example app.use('/events', sse(hub));
 */
export function sse(hub: Hub, options: SseOptions = {}) {
  return function sseMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (req.method !== 'GET') return next();
    try {
      serveNode(hub, res, connectParams(req, nodeRequestParts(req), options), options);
    } catch (err) {
      // A resolver that throws, or a hub closed under us: Express's error handling answers.
      if (!res.headersSent) next(err);
      else res.destroy(err as Error);
    }
  };
}
