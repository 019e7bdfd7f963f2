export { createHub, Hub } from './hub';
export type {
  HubLogger,
  HubOptions,
  ConnectParams,
  ListenOptions,
  HubEvents,
  EvictReason,
  InitMessages,
  DrainOptions,
  ClosableServer,
  HubState,
} from './hub';
export type { Client } from './client';
export type {
  Backplane,
  BackplaneEntry,
  BackplaneGapReason,
  BackplaneHandler,
  BackplaneRecord,
  BackplaneReplay,
  BackplaneState,
} from './backplane';
export type { Message, Delivered, EventMap, HubMessage, UntypedEvents } from './message';
export type { Sink } from './sink';
export { SseHubError } from './errors';
export type { SseHubErrorCode } from './errors';
export { encodeEvent, encodeComment, encodeRetry, dataText } from './encoder';
export { validateMessage, validateChannel, messageProblem, channelProblem, idProblem, DEFAULT_MAX_ID_LENGTH } from './validate';
export type { FieldProblem, MessageLimits } from './validate';
export { NodeSink } from './sinks/node';
export { WebSink, WEB_HIGH_WATER_MARK, type WebSinkOptions } from './sinks/web';
export { serveNode, serveWeb, connectParams, nodeRequestParts, hubRefusal, SSE_HEADERS } from './serve';
export type { StreamOptions, RequestParts } from './serve';
export { safeEqual, bearerToken, checkToken, corsHeaders, preflight, acceptsGzip, checkCors } from './access';
export type { HttpAnswer, Denial, HeaderReader, CorsOptions } from './access';
export {
  admitStream,
  checkStreamOptions,
  handleNodeStream,
  respondNode,
  handleWebStream,
  nodeStreamRequest,
  webStreamRequest,
  sendNodeAnswer,
  webAnswer,
} from './admission';
export type { StreamGrant, StreamAuthorization, Admission, StreamRequest } from './admission';
export { createPublishHandler, nodePublishRequest, webPublishRequest, readNodeBody, readWebBody } from './publish';
export type { PublishOptions, PublishRequest, PublishHandler } from './publish';
export { GzipNodeSink } from './sinks/gzip';
export { GzipWebSink } from './sinks/gzip-web';
export { refusal, wantsEventStream, REFUSAL_HEADER } from './refusal';
export type { RefusalReason } from './refusal';
