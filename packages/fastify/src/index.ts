import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gzip } from 'node:zlib';
import { admitStream, checkStreamOptions, createGzip, SSE_HEADERS, type Hub, type StreamOptions } from '@ssehub/core/adapter';
import { nodeStreamRequest, serveNode } from '@ssehub/core/adapter/node';
import { sendAnswer } from './answer';

/**
 * Options of {@link sse}: resolvers and `authorize` receive Fastify's `request`. Every option and
 * its default: `StreamOptions` in @ssehub/core.
 */
export type SseOptions = StreamOptions<FastifyRequest<any, any, any>>;

/** A Fastify route handler, whatever the server (`http`, `https`, `http2`) and type provider. */
export type SseHandler = (request: FastifyRequest<any, any, any>, reply: FastifyReply<any, any, any>) => Promise<void>;

/**
 * A Fastify route handler that answers with an SSE stream of `hub`.
 *
 * Admission (`authorize`, CORS, limits, refusals) runs first, inside Fastify's lifecycle: a refusal,
 * a 400 or a preflight is an ordinary reply (`onSend` hooks, `onResponse` and the request log see it),
 * and what `authorize` or a resolver throws goes to Fastify's error handler. Only a stream takes the
 * response over: `reply.hijack()`, then the stream is written on `reply.raw` (Fastify's documented
 * way to answer outside its reply cycle), with the headers hooks set on `reply` before the handler
 * (`reply.header()`, `@fastify/cors`). `onSend` does not run for it; `onResponse` runs when the
 * server ends it (`hub.disconnect`, `drain`, `close`), `onRequestAbort` when the client leaves first.
 *
 * Fastify routes by method: with `options.cors`, mount it for OPTIONS too
 * (`app.route({ method: ['GET', 'OPTIONS'], url: '/events', handler: sse(hub, options) })`) so
 * preflights are answered. A method it does not serve (HEAD, or OPTIONS without `cors`) gets 405
 * with `Allow`.
 * @throws TypeError now for a bad option.
 * @example app.get('/events', sse(hub));
 */
export function sse(hub: Hub<any>, options: SseOptions = {}): SseHandler {
  checkStreamOptions(options);
  const allow = options.cors ? 'GET, OPTIONS' : 'GET';
  return async function sseHandler(request, reply) {
    // On `http2: true` these are node:http2's compatibility request and response, which core serves alike.
    const nodeReq = request.raw as IncomingMessage;
    const admission = await admitStream(hub, request, nodeStreamRequest(nodeReq), options);
    if (admission.kind === 'pass') {
      await reply.code(405).header('Allow', allow).send();
      return;
    }
    if (admission.kind === 'answer') {
      await sendAnswer(reply, admission.answer);
      return;
    }
    const gzip = admission.gzip ? ((await createGzip()) as Gzip | undefined) : undefined;
    // Headers Fastify hooks set on `reply` (`reply.header()`, `@fastify/cors`): Fastify would have
    // sent them with its reply; the stream carries them instead. Ours win.
    const headers = { ...fastifyHeaders(reply, admission.headers), ...admission.headers };
    // From here on the response is ours: Fastify sends nothing and runs no more hooks but onResponse.
    reply.hijack();
    const res = reply.raw as ServerResponse;
    // The peer may have left while `authorize` ran: registering it now would leak a connection.
    if (res.destroyed || res.socket?.destroyed || nodeReq.socket?.destroyed) {
      gzip?.destroy();
      return;
    }
    serveNode(hub, res, admission.params, { retryAfter: options.retryAfter, headers, gzip, eventStream: admission.eventStream });
  };
}

/** Headers the stream sets itself, or that must not be copied onto it. */
const OWN = new Set(['content-length', 'transfer-encoding', 'connection', 'content-encoding', ...Object.keys(SSE_HEADERS).map((k) => k.toLowerCase())]);

/** The headers set on `reply` so far, less those the stream sets itself (whatever their case). */
function fastifyHeaders(reply: FastifyReply<any, any, any>, ours: Record<string, string>): Record<string, string> {
  const taken = new Set(Object.keys(ours).map((k) => k.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    const key = name.toLowerCase();
    if (value === undefined || OWN.has(key) || taken.has(key)) continue;
    // An array (several Set-Cookie) goes to writeHead as it is: Node sends one line per value.
    out[key] = (Array.isArray(value) ? value : String(value)) as string;
  }
  return out;
}

export { publish } from './publish';
export type { PublishApiOptions } from './publish';
