/**
 * `@ssehub/core/adapter`: what a framework adapter needs, runtime-neutral, plus the Fetch API side.
 * An adapter on the Fetch API is `webStreamHandler` and `webPublishHandler` and a few lines of
 * translation; one on Node's `http` takes the same from `@ssehub/core/adapter/node`. The parts
 * below them (admission, the publish handler, sinks, the wire encoder) are here for adapters that
 * need to go further. Nothing here needs `@types/node`.
 *
 * An adapter takes the app's hub, so its type is here too: an adapter imports nothing from the
 * app entry `@ssehub/core`.
 */
export type { Hub } from './hub/hub';
export { webStreamHandler, webPublishHandler } from './web/handlers';
export type { WebStreamHandler, WebPublishHandler } from './web/handlers';
export { serveWeb, webAnswer } from './web/respond';
export type { ServeWebOptions } from './web/respond';
export { webStreamRequest, webPublishRequest, readWebBody } from './web/request';
export { WebSink, WEB_HIGH_WATER_MARK, streamLead } from './web/sink';
export type { WebSinkOptions } from './web/sink';
export { GzipWebSink } from './web/gzip-sink';
export { admitStream } from './policy/admission';
export type { Admission } from './policy/admission';
export { checkStreamOptions, connectParams, STREAM_DEFAULTS } from './policy/stream-options';
export type { StreamOptions, StreamGrant, StreamAuthorization, StreamRequest } from './policy/stream-options';
export { createPublishHandler, PUBLISH_DEFAULTS } from './policy/publish';
export type { PublishOptions, PublishRequest, PublishHandler } from './policy/publish';
export { refusal, hubRefusal, wantsEventStream, REFUSAL_HEADER } from './policy/refusal';
export type { RefusalReason } from './policy/refusal';
export { textAnswer, jsonAnswer } from './policy/http';
export type { HttpAnswer, HeaderReader } from './policy/http';
export { corsHeaders, preflight, checkCors, checkToken, bearerToken, safeEqual, acceptsGzip, verdictOf } from './policy/access';
export type { CorsOptions, Denial } from './policy/access';
export { createGzip } from './zlib';
export type { GzipStream } from './zlib';
export type { Sink } from './sink';
export { encodeEvent, encodeComment, encodeRetry, dataText } from './wire/encoder';
export { SSE_HEADERS } from './wire/sse-headers';
