import type { ConnectParams } from '../hub/hub';
import { checkCount } from '../options';
import { checkCors, checkLimit, type CorsOptions, type Denial } from './access';

/** The identity an `authorize` hook grants a stream. */
export interface StreamGrant {
  /**
   * The client id the stream gets (what `broadcastTo` addresses and private replay follows).
   * When the hook answers with an object, the request's own `?id=` (or `clientId` resolver) is
   * never used: leave this out and the stream has no client id.
   */
  clientId?: string;
  /**
   * The channels the request may join. Requested channels outside this set are dropped, so neither
   * live events nor replay of other channels reach it. Default: every requested channel.
   */
  channels?: Iterable<string>;
}

/**
 * What a stream's `authorize` hook answers: `true` (allowed, identity from the usual resolvers),
 * a {@link StreamGrant} (allowed, with this identity), `false` (403) or a {@link Denial} (401 or 403;
 * any object with a `status` refuses, with 403 unless it is 401). Anything else refuses with 403,
 * so a hook that forgets to return fails closed.
 */
export type StreamAuthorization = boolean | StreamGrant | Denial;

/**
 * Options every framework adapter's `sse(hub, options)` takes. `Req` is what the framework hands a
 * handler: Express's `req`, Koa's `ctx`, Hono's `c`, Fastify's `request`, a Fetch `Request`.
 */
export interface StreamOptions<Req> {
  /** The client id of a request, which `broadcastTo` addresses. Default: the `id` query parameter. */
  clientId?: (req: Req) => string | undefined;
  /** The channels a request subscribes to. Default: every `channel` query parameter. */
  channels?: (req: Req) => Iterable<string>;
  /** Extra response headers (CORS, say), added to the SSE ones. Default: none. */
  headers?: Record<string, string>;
  /**
   * Seconds a refused client should wait (hub full, `maxConnectionsPerClient`): an EventSource gets
   * a `200` that sets `retry:` near it and ends, other requests `503` or `429` with `Retry-After`.
   * Default: 5.
   */
  retryAfter?: number;
  /**
   * Decides, before any stream opens, whether a request may connect and as whom: answer `true`,
   * a grant `{ clientId, channels }` (the server's identity replaces `?id=`, channels are narrowed to
   * these, and replay follows both), `false` (403) or `{ status: 401 | 403, message }`. May be async.
   * Default: none (every request connects, identity from `clientId`/`channels`).
   */
  authorize?: (req: Req) => StreamAuthorization | Promise<StreamAuthorization>;
  /**
   * CORS for cross-origin EventSource: an origin allowlist, and OPTIONS preflights answered with
   * `Last-Event-ID` allowed (mount the handler for OPTIONS too where the framework routes by method).
   * Requests from other origins get 403. Default: none (no CORS headers; OPTIONS passes on).
   */
  cors?: CorsOptions;
  /** Streams one client id may hold open at once; more are refused (see `retryAfter`). Default: Infinity. */
  maxConnectionsPerClient?: number;
  /** Channels one stream may join; a request for more is answered 400. Default: 64. */
  maxChannels?: number;
  /**
   * Gzip the stream for clients whose Accept-Encoding allows it, flushing after every event, with
   * `Content-Encoding: gzip` and `Vary: Accept-Encoding`. Uses `node:zlib`, loaded on first use; on a
   * runtime without it the stream is sent as it is. Default: false.
   */
  compress?: boolean;
}

/** The defaults of {@link StreamOptions}, in one place. */
export const STREAM_DEFAULTS = Object.freeze({
  retryAfter: 5,
  maxConnectionsPerClient: Infinity,
  maxChannels: 64,
  compress: false,
});

/**
 * Checks a stream handler's options, so a bad one fails when the handler is created rather than on
 * a request. The adapter entry's handlers call it.
 * @throws TypeError for `cors.origins: '*'` with credentials, a limit that is not a positive
 *   integer, or an `authorize` that is not a function.
 */
export function checkStreamOptions(options: StreamOptions<any>): void {
  checkCors(options.cors);
  checkLimit('maxConnectionsPerClient', options.maxConnectionsPerClient);
  checkLimit('maxChannels', options.maxChannels);
  if (options.retryAfter !== undefined) checkCount('retryAfter', options.retryAfter);
  if (options.authorize !== undefined && typeof options.authorize !== 'function') {
    throw new TypeError('ssehub: authorize must be a function');
  }
}

/** What an adapter reads off a stream request, whatever its runtime. */
export interface StreamRequest {
  /** The request's HTTP method, as received. */
  method: string;
  /** The query string's parameters. */
  query: URLSearchParams;
  /** Reads one request header by its lower-case name. */
  header: (name: string) => string | undefined;
}

/**
 * Turns a request into the hub's connect parameters: the app's resolvers (or the `id` and `channel`
 * query defaults), and the Last-Event-ID from the header, else the `lastEventId` query parameter
 * (for clients that cannot set headers), exactly as received.
 */
export function connectParams<Req>(req: Req, request: StreamRequest, options: StreamOptions<Req>): ConnectParams {
  const clientId = options.clientId ? options.clientId(req) : request.query.get('id') ?? undefined;
  const channels = options.channels ? options.channels(req) : request.query.getAll('channel');
  const lastEventId = request.header('last-event-id') || (request.query.get('lastEventId') ?? undefined);
  return { clientId, channels, lastEventId };
}
