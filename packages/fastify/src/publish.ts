import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createPublishHandler, type Hub, type PublishOptions } from '@ssehub/core/adapter';
import { nodePublishRequest } from '@ssehub/core/adapter/node';
import { sendAnswer } from './answer';

/**
 * Options of {@link publish}: `authorize` receives Fastify's `request`. `prefix` is where the API
 * lives below the plugin's own prefix (the `prefix` of `app.register`). Default: `''`.
 */
export type PublishApiOptions = PublishOptions<FastifyRequest<any, any, any>>;

/** The methods the API's routes are registered for (HEAD comes with GET). */
const METHODS = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'];

/**
 * A Fastify plugin serving the HTTP publish/admin API of `hub` (routes: see the root README), to
 * register under a prefix: `app.register(publish(hub, { token }), { prefix: '/api' })`.
 *
 * It registers two routes, the prefix itself and everything below it (`/api` and `/api/*`), so the
 * app's own routes under the same prefix (`app.get('/api/users')`) still win, and paths below it
 * that are not the API's go to Fastify's not-found handler. Answers are ordinary Fastify replies
 * (hooks, logger and error handler apply). The plugin is encapsulated: the content-type parser it
 * adds reads no body, so ssehub reads it itself and keeps its own answers (415 for a body that is
 * not JSON, 413 over `maxBodyBytes`, 400 for JSON it cannot use) for every content type, where the
 * app's parsers would answer first otherwise.
 * @param options.token bearer token(s); or `authorize`, or `public: true`. One is required.
 * @param options.maxBodyBytes default: 65536.
 * @throws TypeError now when none of `token`, `authorize` and `public: true` is given.
 * @example app.register(publish(hub, { token: process.env.SSEHUB_TOKEN }), { prefix: '/api' });
 */
export function publish(hub: Hub<any>, options: PublishApiOptions) {
  const own = options.prefix ?? '';
  // Checks the options now (a TypeError here rather than when Fastify boots).
  createPublishHandler(hub, options);
  return async function ssehubPublish(instance: FastifyInstance<any, any, any, any, any>): Promise<void> {
    // Fastify's prefix is '' at the root and never ends with '/' (`/api/` registers as `/api`).
    const base = (instance.prefix ?? '').replace(/\/+$/, '');
    const handle = createPublishHandler(hub, { ...options, prefix: base + own });
    // The body is ssehub's to read: no parser of the app's (or Fastify's JSON one) consumes it.
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', (_request: unknown, _payload: unknown, done: (err: Error | null, body?: unknown) => void) => done(null));
    const handler = async (request: FastifyRequest<any, any, any>, reply: FastifyReply<any, any, any>): Promise<void> => {
      const nodeReq = request.raw as IncomingMessage;
      const url = nodeReq.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      const answer = await handle(nodePublishRequest(request, nodeReq, path));
      // Not the API's path: Fastify's not-found handler answers, as for any unknown route.
      await (answer ? sendAnswer(reply, answer) : reply.callNotFound());
    };
    instance.route({ method: METHODS, url: own || '/', handler });
    instance.route({ method: METHODS, url: `${own}/*`, handler });
  };
}
