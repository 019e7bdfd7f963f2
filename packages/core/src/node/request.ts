import type { IncomingMessage } from 'node:http';
import type { HeaderReader } from '../policy/http';
import type { PublishRequest } from '../policy/publish';
import type { StreamRequest } from '../policy/stream-options';

/** Reads a Node request header by its lower-case name (the first value when repeated). */
export function nodeHeaderReader(req: IncomingMessage): HeaderReader {
  return (name) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
}

/** The stream request of a Node request: its method, query and headers. */
export function nodeStreamRequest(req: IncomingMessage): StreamRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return { method: req.method ?? 'GET', query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)), header: nodeHeaderReader(req) };
}

/**
 * A publish request over a Node request (Express, Koa, Fastify, plain `node:http`).
 * @param path the path below where the API is mounted, without the query string.
 * @param parsedBody a body a parser upstream already read (`express.json()`, say); used only when
 *   the request stream was consumed, since a parser that skipped the request may leave `{}`.
 */
export function nodePublishRequest<Req>(req: Req, nodeReq: IncomingMessage, path: string, parsedBody?: unknown): PublishRequest<Req> {
  return {
    req,
    method: nodeReq.method ?? 'GET',
    path,
    header: nodeHeaderReader(nodeReq),
    readBody: (limit) => readNodeBody(nodeReq, limit),
    parsedBody: nodeReq.readableEnded ? parsedBody : undefined,
  };
}

/**
 * Reads a Node request body, at most `limit` bytes.
 * @returns the bytes, or undefined when the body is longer (the rest is read and dropped, so the
 *   answer can go out and the connection stays usable).
 */
export function readNodeBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Uint8Array) => {
      size += chunk.byteLength;
      if (size > limit) {
        cleanup();
        req.resume();
        resolve(undefined);
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
