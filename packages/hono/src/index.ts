import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { checkStreamOptions, handleNodeStream, handleWebStream, type Hub, type StreamOptions } from '@ssehub/core';

/** Options of {@link sse}: resolvers receive Hono's `c`. */
export type SseOptions = StreamOptions<Context>;

/** What `@hono/node-server` passes as `c.env`: the Node request and response. */
interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

/** `@hono/node-server` sends nothing for a bodiless response carrying this header: it was sent already. */
const ALREADY_SENT = 'x-hono-already-sent';

/**
 * A Hono handler that answers with an SSE stream of `hub`. On `@hono/node-server` it writes to the
 * Node response underneath (`c.env.outgoing`), as the Express and Koa adapters do, which costs far
 * less per event; headers Hono middleware set before it (`c.header()`, `cors()`) are sent with the
 * stream, ones set after the handler returns are not. Everywhere else it answers with a Web
 * `ReadableStream`, released when the request aborts or the body is cancelled.
 * With `options.cors`, mount it for OPTIONS too (`app.on(['GET', 'OPTIONS'], '/events', sse(hub, options))`)
 * so preflights are answered; other methods get 405. `authorize`, CORS and limits run in core.
 * @example app.get('/events', sse(hub));
 */
export function sse(hub: Hub, options: SseOptions = {}) {
  checkStreamOptions(options);
  const notAllowed = () => new Response(null, { status: 405, headers: { Allow: options.cors ? 'GET, OPTIONS' : 'GET' } });
  return async function sseHandler(c: Context): Promise<Response> {
    const { incoming, outgoing } = (c.env ?? {}) as NodeBindings;
    if (isNodeResponse(outgoing) && incoming && !outgoing.headersSent) {
      const headers = { ...honoHeaders(c), ...options.headers };
      const result = await handleNodeStream(hub, c, incoming, outgoing, { ...options, headers });
      if (result === 'pass') return notAllowed();
      return new Response(null, { headers: { [ALREADY_SENT]: 'true' } });
    }
    const res = await handleWebStream(hub, c, c.req.raw, options);
    return res ?? notAllowed();
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
