import type { Hub } from '../hub/hub';
import { admitStream } from '../policy/admission';
import { createPublishHandler, type PublishOptions } from '../policy/publish';
import { checkStreamOptions, type StreamOptions } from '../policy/stream-options';
import { createGzip } from '../zlib';
import { webPublishRequest, webStreamRequest } from './request';
import { disconnectSignal, serveWeb, webAnswer } from './respond';

/**
 * Serves one stream request as a Web `Response`.
 * @param req the framework's request object (the `Request` itself where there is no framework).
 * @param http1 the request came over HTTP/1.x (see `ServeWebOptions.http1`). Default: false.
 * @returns undefined when the request is not the stream's (a method other than GET, or OPTIONS without CORS).
 * @throws (rejects) what a resolver or `authorize` throws.
 */
export type WebStreamHandler<Req> = (req: Req, request: Request, http1?: boolean) => Promise<Response | undefined>;

/**
 * The stream side of an adapter on the Fetch API, in one call: checks `options` now, and per
 * request runs admission, then answers or serves the stream (gzipped when asked, accepted and
 * `node:zlib` exists).
 * @example const handle = webStreamHandler(hub); export const GET = (request: Request) => handle(request, request);
 */
export function webStreamHandler<Req>(hub: Hub<any>, options: StreamOptions<Req> = {}): WebStreamHandler<Req> {
  checkStreamOptions(options);
  return async function serveStream(req, request, http1 = false) {
    const a = await admitStream(hub, req, webStreamRequest(request), options);
    if (a.kind === 'pass') return undefined;
    if (a.kind === 'answer') return webAnswer(a.answer, false, http1);
    const gzip = a.gzip ? await createGzip() : undefined;
    return serveWeb(hub, a.params, {
      retryAfter: options.retryAfter,
      headers: a.headers,
      signal: disconnectSignal(request),
      gzip,
      eventStream: a.eventStream,
      http1,
    });
  };
}

/**
 * Serves one publish API request as a Web `Response`.
 * @param path the path below the mount point; default: the URL's path (the `prefix` option strips the mount point).
 * @returns undefined when the path is not the API's.
 */
export type WebPublishHandler<Req> = (req: Req, request: Request, path?: string) => Promise<Response | undefined>;

/**
 * The publish API side of an adapter on the Fetch API, in one call (see `createPublishHandler`).
 * @throws TypeError now when none of `token`, `authorize` and `public: true` is given.
 */
export function webPublishHandler<Req>(hub: Hub<any>, options: PublishOptions<Req>): WebPublishHandler<Req> {
  const handle = createPublishHandler(hub, options);
  return async function servePublish(req, request, path) {
    const answer = await handle(webPublishRequest(req, request, path));
    return answer && webAnswer(answer, request.method === 'HEAD');
  };
}
