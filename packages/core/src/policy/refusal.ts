import type { Hub } from '../hub/hub';
import { SSE_HEADERS } from '../wire/sse-headers';
import type { HttpAnswer } from './http';
import { STREAM_DEFAULTS } from './stream-options';

/** Why a stream was refused for now: the hub is full, the client id holds its limit, or the hub is going away. */
export type RefusalReason = 'hub-full' | 'client-limit' | 'shutting-down';

/** The header that names a refusal's reason on both kinds of answer, for clients that read headers. */
export const REFUSAL_HEADER = 'X-SSEHub-Refused';

/** Seconds a client told the hub is going away should wait: the next instance is usually up by then. */
const SHUTDOWN_RETRY_SECONDS = 1;

const STATUS: Record<RefusalReason, number> = { 'hub-full': 503, 'client-limit': 429, 'shutting-down': 503 };
const TEXT: Record<RefusalReason, string> = {
  'hub-full': 'too many connections',
  'client-limit': 'too many connections for this client',
  'shutting-down': 'shutting down',
};

/**
 * The answer to a stream request that cannot be served now but may be later.
 *
 * To an `EventSource` (a request that accepts `text/event-stream`), any status but 200 is fatal: it
 * never reconnects. So it gets a `200` event stream that sets `retry:` to about `retryAfter`
 * seconds (between half and one and a half times it, so a refused crowd does not come back at once),
 * says why in a comment line and the `X-SSEHub-Refused` header, and ends: the client reconnects by
 * itself with its Last-Event-ID and gets in once there is room. It carries no event and no id.
 * Other requests get the status (`503`, or `429` for the per-client limit) with `Retry-After`.
 * Both close the connection, so a keep-alive connection cannot pin the client to a hub going away.
 * @param retryAfter seconds; a hub shutting down always says 1 second.
 */
export function refusal(
  reason: RefusalReason,
  options: { retryAfter?: number; eventStream: boolean; headers?: Record<string, string> },
): HttpAnswer {
  const seconds = reason === 'shutting-down' ? SHUTDOWN_RETRY_SECONDS : options.retryAfter ?? STREAM_DEFAULTS.retryAfter;
  const headers: Record<string, string> = { ...options.headers, 'Retry-After': String(seconds), [REFUSAL_HEADER]: reason };
  if (!options.eventStream) {
    return {
      status: STATUS[reason],
      headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8' },
      body: `ssehub: ${TEXT[reason]}\n`,
      closeConnection: true,
    };
  }
  const retry = Math.round(seconds * 1000 * (0.5 + Math.random()));
  // Lines only, no blank line: clients that dispatch on every blank line would report an empty event.
  return {
    status: 200,
    headers: { ...headers, ...SSE_HEADERS },
    body: `retry: ${retry}\n: ssehub: ${TEXT[reason]}; retry in ${retry} ms\n`,
    closeConnection: true,
  };
}

/** Why the hub cannot take a stream right now, or undefined when it can. */
export function hubRefusal(hub: Hub<any>): RefusalReason | undefined {
  return hub.state !== 'open' ? 'shutting-down' : hub.full ? 'hub-full' : undefined;
}

/** True when a request's Accept header asks for an event stream, as every EventSource's does. */
export function wantsEventStream(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept);
}
