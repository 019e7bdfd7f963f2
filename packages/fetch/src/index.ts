/**
 * `@ssehub/fetch`: the hub's stream and publish API as plain Fetch API handlers,
 * `(request: Request) => Promise<Response>`, for any runtime that has `Request` and `Response`:
 * Next.js route handlers, `Bun.serve({ fetch })`, `Deno.serve(handler)`, SvelteKit, Remix, Astro.
 *
 * A thin layer over `@ssehub/core/adapter`'s `webStreamHandler` and `webPublishHandler`, the one Web
 * implementation every Fetch-based adapter shares: this package only answers what those leave
 * unanswered (a method the stream does not serve, a path outside the publish API).
 */
import {
  jsonAnswer,
  webAnswer,
  webPublishHandler,
  webStreamHandler,
  type Hub,
  type PublishOptions,
  type StreamOptions,
} from '@ssehub/core/adapter';

/**
 * A Fetch API handler. Runtimes pass a second argument of their own (Bun's server, Deno's info,
 * Next.js's context, `@hono/node-server`'s `{ incoming, outgoing }`): only the Node HTTP bridge's
 * `incoming.httpVersionMajor` is read, to close HTTP/1 connections with the streams.
 */
export type FetchHandler = (request: Request, context?: unknown) => Promise<Response>;

/** Options of {@link sse}: resolvers and `authorize` receive the `Request`. */
export type SseOptions = StreamOptions<Request>;

/** Options of {@link publish}: `authorize` receives the `Request`. */
export type PublishApiOptions = PublishOptions<Request>;

/**
 * The answer to a method the stream does not serve: `405` with `Allow: GET` (`GET, OPTIONS` when
 * `cors` is set, since preflights are then answered).
 */
export function methodNotAllowed(options: { cors?: unknown } = {}): Response {
  return new Response(null, { status: 405, headers: { Allow: options.cors ? 'GET, OPTIONS' : 'GET' } });
}

/**
 * The stream handler for adapters whose resolvers take a request object of their own (Hono's `c`):
 * `(req, request)` where `request` is the Fetch `Request` underneath. Always answers: a stream, a
 * refusal, a preflight, or {@link methodNotAllowed}. {@link sse} is this with `req` the `Request`.
 * @throws TypeError now for bad options (see `checkStreamOptions`).
 */
export function streamResponder<Req>(
  hub: Hub<any>,
  options: StreamOptions<Req> = {},
): (req: Req, request: Request, http1?: boolean) => Promise<Response> {
  const serve = webStreamHandler(hub, options);
  return async function respond(req, request, http1) {
    return (await serve(req, request, http1)) ?? methodNotAllowed(options);
  };
}

/**
 * True when the handler runs behind a Node HTTP bridge (`@hono/node-server`'s `getRequestListener`,
 * which passes `{ incoming }`) and the request came over HTTP/1.x. Other runtimes do not say.
 */
function overHttp1(context: unknown): boolean {
  const incoming = (context as { incoming?: { httpVersionMajor?: unknown } } | undefined)?.incoming;
  return incoming?.httpVersionMajor === 1;
}

/**
 * A Fetch handler that answers `GET` with an SSE stream of `hub`.
 *
 * - `GET`: `200` and the stream, whose body starts with the lone comment line `:\n` so the headers
 *   go out at once on every runtime (Bun sends a streamed response's headers only with its first
 *   chunk); or a refusal (`401`/`403` from `authorize`, `400` for bad channels, a hub that is full
 *   or draining: see `retryAfter`).
 * - `OPTIONS` with `options.cors`: the preflight (`204`, or `403` for an origin not allowed).
 * - Any other method (and `OPTIONS` without `cors`): `405` with `Allow`.
 *
 * Behind a Node HTTP bridge over HTTP/1.x (`@hono/node-server`'s `getRequestListener`), the stream and
 * refusals say `Connection: close`, as the Node adapters' do: a client's reconnect after a drain or a
 * refusal opens a new connection instead of reaching the same process on a kept-alive one.
 * The stream is released when the client leaves: the body is cancelled, or the request's signal
 * aborts (not watched on Deno, which cancels the body and warns once a handler reads the signal).
 * Backpressure follows the stream's desired size (64 KiB queued), so a client that stops reading is
 * evicted by the hub's `timeout`/`maxBufferedBytes` rules as on Node.
 * A resolver or `authorize` that throws rejects the returned promise: the runtime answers `500`.
 * @throws TypeError now for bad options (`cors` with `'*'` and credentials, a limit that is not a positive integer).
 * @example export const GET = sse(hub); // app/events/route.ts in Next.js
 * @example Bun.serve({ fetch: sse(hub), idleTimeout: 0 });
 */
export function sse(hub: Hub<any>, options: SseOptions = {}): FetchHandler {
  const respond = streamResponder(hub, options);
  return function sseHandler(request: Request, context?: unknown) {
    return respond(request, request, overHttp1(context));
  };
}

/**
 * A Fetch handler serving the HTTP publish/admin API of `hub` (routes: see the README).
 *
 * There is no next handler to pass to, so a path outside the API (outside `prefix`, or not one of
 * `/`, `/broadcast`, `/channels/...`, `/clients/...` below it) is answered `404` with JSON
 * `{ "error": "no such route" }`, as unknown routes inside it are. Mount it where the API should live
 * and set `prefix` to that path: in Next.js, `app/api/[[...path]]/route.ts` with `prefix: '/api'`,
 * exported as GET, HEAD, POST, DELETE and OPTIONS.
 * @throws TypeError now when none of `token`, `authorize` and `public: true` is given, or `prefix` is malformed.
 * @example const api = publish(hub, { prefix: '/api', token: process.env.SSEHUB_TOKEN });
 */
export function publish(hub: Hub<any>, options: PublishApiOptions): FetchHandler {
  const serve = webPublishHandler(hub, options);
  return async function publishHandler(request: Request) {
    return (await serve(request, request)) ?? webAnswer(jsonAnswer(404, { error: 'no such route' }), request.method === 'HEAD');
  };
}

export type { StreamOptions, PublishOptions } from '@ssehub/core/adapter';
