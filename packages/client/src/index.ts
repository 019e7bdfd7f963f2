export { subscribe } from './subscribe';
export { EventStream } from './event-stream';
export type { ReadyState, StreamEvents } from './event-stream';
export type { SseEvent } from './event';
export type { SubscribeOptions, StreamErrorResult, StreamLogger } from './options';
export { StreamError } from './stream-error';
export type { StreamErrorKind } from './stream-error';
