/**
 * `@ssehub/core`: what an app uses. The hub, its options and events, the message types, errors and
 * the backplane contract. What framework adapters need is in `@ssehub/core/adapter` (runtime-neutral
 * and Fetch) and `@ssehub/core/adapter/node` (Node's `http`). Nothing here needs `@types/node`.
 */
export { createHub, Hub } from './hub/hub';
export type { ConnectParams, HubState, HubHealth } from './hub/hub';
export type { HubStats, RefusalKind, GapKind } from './hub/stats';
export type { HubOptions, HubLogger, InitMessages, EvictReason } from './hub/options';
export type { HubEvents } from './hub/events';
export type { ListenOptions } from './hub/listeners';
export type { DrainOptions, ClosableServer } from './hub/drain';
export type { Client } from './hub/connection';
export type { Message, Delivered, EventMap, HubMessage, UntypedEvents } from './message';
export { SseHubError } from './errors';
export type { SseHubErrorCode } from './errors';
export { validateMessage, messageProblem, channelProblem, idProblem } from './wire/validate';
export type { FieldProblem, MessageLimits } from './wire/validate';
export type {
  Backplane,
  BackplaneEntry,
  BackplaneGapReason,
  BackplaneHandler,
  BackplaneRecord,
  BackplaneReplay,
  BackplaneState,
} from './backplane';
export type { StreamOptions, StreamGrant, StreamAuthorization } from './policy/stream-options';
export type { PublishOptions } from './policy/publish';
export type { CorsOptions, Denial } from './policy/access';
