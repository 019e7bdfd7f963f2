import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { Hub, StreamOptions } from '@ssehub/core/adapter';
import { nodeStreamHandler } from '@ssehub/core/adapter/node';
import { methodNotAllowed, streamResponder } from '@ssehub/fetch';

/** Options of {@link sse}: resolvers receive Hono's `c`. */
export type SseOptions = StreamOptions<Context>;

/** What `@hono/node-server` passes as `c.env` (its `HttpBindings`): the Node request and response. */
interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

/**
 * Where `@hono/node-server` (1.9 and later, 2.x) exports `RESPONSE_ALREADY_SENT`, the response its
 * README ("Direct response from Node.js API") says a handler returns when it answered on
 * `c.env.outgoing` itself. In a variable, so that bundlers for runtimes without the package (Bun,
 * Deno, Workers) leave the import alone: it only runs when Hono hands us Node bindings.
 */
const ALREADY_SENT_MODULE = '@hono/node-server/utils/response';

let alreadySent: Promise<Headers | undefined> | undefined;

/**
 * The headers of `@hono/node-server`'s `RESPONSE_ALREADY_SENT`, loaded once; undefined when the
 * package (or that export) is not there, and the handler then streams on a Web `ReadableStream`.
 */
function loadAlreadySent(): Promise<Headers | undefined> {
  alreadySent ??= import(ALREADY_SENT_MODULE).then(
    (m: { RESPONSE_ALREADY_SENT?: unknown }) => markerHeaders(m.RESPONSE_ALREADY_SENT),
    () => undefined,
  );
  return alreadySent;
}

/** The headers of a bodiless response with at least one header, else undefined. */
function markerHeaders(res: unknown): Headers | undefined {
  const r = res as Response | undefined;
  if (!r || r.body !== null || typeof r.headers?.forEach !== 'function') return undefined;
  const headers = new Headers(r.headers);
  let count = 0;
  headers.forEach(() => count++);
  return count > 0 ? headers : undefined;
}

/**
 * A fresh copy of `RESPONSE_ALREADY_SENT` for one request (Hono middleware may add headers to the
 * response it gets, which must not reach the shared one).
 *
 * `@hono/node-server` 2 replaces the global `Response` with a lightweight one and writes a bodiless
 * lightweight response (`writeHead` and `end`) without looking at the marker, which fails with
 * ERR_HTTP_HEADERS_SENT and ends the stream. Its own `RESPONSE_ALREADY_SENT` takes that path too
 * when Hono re-creates the handler's response (middleware that used `c.res` or `c.header()`, such
 * as `cors()`), or when it was loaded after `serve()`. Reading `body`, a standard `Response`
 * property, turns a lightweight response into a standard one, which it honours, and so does any
 * copy Hono makes of it. On 1.x and with the native `Response` the read changes nothing.
 */
function alreadySentResponse(headers: Headers): Response {
  const res = new Response(null, { headers });
  void res.body;
  return res;
}

/**
 * A Hono handler that answers with an SSE stream of `hub`.
 *
 * On `@hono/node-server` (1.19 or later, or 2.x) it writes to the Node response underneath
 * (`c.env.outgoing`), as the Express and Koa adapters do, which costs far less per event, and
 * returns `@hono/node-server`'s `RESPONSE_ALREADY_SENT` (loaded on first use) so that the server
 * sends nothing more. Headers Hono middleware set before it (`c.header()`, `cors()`) are sent with
 * the stream; ones set after the handler returns are not.
 *
 * Everywhere else (Bun, Deno, Workers, `app.request()`, or Node bindings without
 * `@hono/node-server` installed) it is `@ssehub/fetch`'s handler on `c.req.raw`: a Web
 * `ReadableStream`, released when the request aborts or the body is cancelled.
 *
 * With `options.cors`, mount it for OPTIONS too (`app.on(['GET', 'OPTIONS'], '/events', sse(hub, options))`)
 * so preflights are answered; other methods get 405. `authorize`, CORS and limits run in core.
 * @example app.get('/events', sse(hub));
 */
export function sse(hub: Hub<any>, options: SseOptions = {}) {
  const serveNode = nodeStreamHandler(hub, options);
  const serveWeb = streamResponder(hub, options);
  return async function sseHandler(c: Context): Promise<Response> {
    const { incoming, outgoing } = (c.env ?? {}) as NodeBindings;
    if (isNodeResponse(outgoing) && incoming && !outgoing.headersSent) {
      const marker = await loadAlreadySent();
      if (marker && !outgoing.headersSent) {
        const served = await serveNode(c, incoming, outgoing, { headers: honoHeaders(c) });
        return served ? alreadySentResponse(marker) : methodNotAllowed(options);
      }
    }
    return serveWeb(c, c.req.raw);
  };
}

function isNodeResponse(v: unknown): v is ServerResponse {
  const r = v as ServerResponse | undefined;
  return typeof r?.writeHead === 'function' && typeof r.flushHeaders === 'function' && typeof r.write === 'function';
}

/** Headers earlier Hono middleware prepared for the response, which Hono would merge into ours. */
function honoHeaders(c: Context): Record<string, string> {
  const out: Record<string, string> = {};
  c.res.headers.forEach((value, key) => {
    if (key !== 'content-type') out[key] = value;
  });
  return out;
}
export { publish } from './publish';
export type { PublishApiOptions } from './publish';
