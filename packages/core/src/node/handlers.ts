import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gzip } from 'node:zlib';
import type { Hub } from '../hub/hub';
import { admitStream } from '../policy/admission';
import { createPublishHandler, type PublishOptions } from '../policy/publish';
import { checkStreamOptions, type StreamOptions } from '../policy/stream-options';
import { createGzip } from '../zlib';
import { nodePublishRequest, nodeStreamRequest } from './request';
import { sendNodeAnswer, serveNode } from './respond';

/**
 * Serves one stream request on Node's `http` (or `https`, or `http2`'s compatibility API).
 * @param req the framework's request object, handed to `authorize` and the resolvers.
 * @param extra headers for this response only (ones earlier framework middleware prepared).
 * @returns false when the request is not the stream's (a method other than GET, or OPTIONS without
 *   CORS): the adapter passes it on; true when it was answered (a stream, a preflight or a refusal).
 * @throws (rejects) what a resolver or `authorize` throws: the framework's error handling answers.
 */
export type NodeStreamHandler<Req> = (req: Req, nodeReq: IncomingMessage, res: ServerResponse, extra?: { headers?: Record<string, string> }) => Promise<boolean>;

/**
 * The stream side of an adapter on Node, in one call: checks `options` now, and per request runs
 * admission (CORS, refusals, `authorize`, limits), then sends the answer or serves the stream (gzipped
 * when asked and accepted). A peer that left while `authorize` ran is not registered.
 * @example
 * const handle = nodeStreamHandler(hub, options);
 * app.use('/events', (req, res, next) => handle(req, req, res).then((served) => served || next(), next));
 */
export function nodeStreamHandler<Req>(hub: Hub<any>, options: StreamOptions<Req> = {}): NodeStreamHandler<Req> {
  checkStreamOptions(options);
  return async function serveStream(req, nodeReq, res, extra) {
    const admission = await admitStream(hub, req, nodeStreamRequest(nodeReq), options);
    if (admission.kind === 'pass') return false;
    const gzip = admission.kind === 'stream' && admission.gzip ? ((await createGzip()) as Gzip | undefined) : undefined;
    // The peer may have left while `authorize` ran: registering it now would leak a connection.
    if (res.destroyed || res.socket?.destroyed || nodeReq.socket?.destroyed) return true;
    if (admission.kind === 'answer') {
      sendNodeAnswer(res, admission.answer);
      return true;
    }
    serveNode(hub, res, admission.params, {
      retryAfter: options.retryAfter,
      headers: extra?.headers ? { ...extra.headers, ...admission.headers } : admission.headers,
      gzip,
      eventStream: admission.eventStream,
    });
    return true;
  };
}

/**
 * Serves one publish API request on Node's `http`.
 * @param path the path below where the API is mounted, without the query string.
 * @param parsedBody a body a parser upstream already read, if any.
 * @returns false when the path is not the API's (the adapter passes it on); true when answered.
 */
export type NodePublishHandler<Req> = (req: Req, nodeReq: IncomingMessage, res: ServerResponse, at: { path: string; parsedBody?: unknown }) => Promise<boolean>;

/**
 * The publish API side of an adapter on Node, in one call (routes, checks and answers: see
 * `createPublishHandler`).
 * @throws TypeError now when none of `token`, `authorize` and `public: true` is given.
 */
export function nodePublishHandler<Req>(hub: Hub<any>, options: PublishOptions<Req>): NodePublishHandler<Req> {
  const handle = createPublishHandler(hub, options);
  return async function servePublish(req, nodeReq, res, at) {
    const answer = await handle(nodePublishRequest(req, nodeReq, at.path, at.parsedBody));
    if (!answer) return false;
    sendNodeAnswer(res, answer, nodeReq.method === 'HEAD');
    return true;
  };
}
