import type { HeaderReader } from '../policy/http';
import type { PublishRequest } from '../policy/publish';
import type { StreamRequest } from '../policy/stream-options';
import { concatBytes } from '../wire/encoder';

/** The stream request of a Web `Request`: its method, query and headers. */
export function webStreamRequest(request: Request): StreamRequest {
  const header: HeaderReader = (name) => request.headers.get(name) ?? undefined;
  return { method: request.method, query: new URL(request.url).searchParams, header };
}

/**
 * A publish request over a Web `Request`.
 * @param path the path below where the API is mounted; default: the request URL's whole path
 *   (with the handler's `prefix` option stripping the mount point).
 */
export function webPublishRequest<Req>(req: Req, request: Request, path?: string): PublishRequest<Req> {
  return {
    req,
    method: request.method,
    path: path ?? new URL(request.url).pathname,
    header: (name) => request.headers.get(name) ?? undefined,
    readBody: (limit) => readWebBody(request, limit),
  };
}

/**
 * Reads a Web request body, at most `limit` bytes.
 * @returns the bytes, or undefined when the body is longer (the stream is cancelled).
 */
export async function readWebBody(request: Request, limit: number): Promise<Uint8Array | undefined> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return chunks.length ? concatBytes(chunks, size) : new Uint8Array(0);
}
