import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gzip } from 'node:zlib';
import type { CorsOptions, HttpAnswer } from './access';
import type { StreamAuthorization } from './admission';
import type { Client } from './client';
import type { ConnectParams, Hub } from './hub';
import { GzipNodeSink } from './sinks/gzip';
import { GzipWebSink } from './sinks/gzip-web';
import { NodeSink } from './sinks/node';
import { WebSink } from './sinks/web';
import { refusal, type RefusalReason } from './refusal';
import { SSE_HEADERS } from './sse-headers';

/**
 * Options every framework adapter's `sse(hub, options)` takes. `Req` is what the framework hands a
 * handler: Express's `req`, Koa's `ctx`, Hono's `c`.
 */
export interface StreamOptions<Req> {
  /** The client id of a request, which `broadcastTo` addresses. Default: the `id` query parameter. */
  clientId?: (req: Req) => string | undefined;
  /** The channels a request subscribes to. Default: every `channel` query parameter. */
  channels?: (req: Req) => Iterable<string>;
  /** Extra response headers (CORS, say), added to the SSE ones. Default: none. */
  headers?: Record<string, string>;
  /** Seconds a client told 503 (hub full) or 429 (per-client limit) should wait, sent as Retry-After. Default: 5. */
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
   * `Last-Event-ID` allowed (mount the handler for OPTIONS too on Koa and Hono). Requests from other
   * origins get 403. Default: none (no CORS headers; OPTIONS passes on).
   */
  cors?: CorsOptions;
  /** Streams one client id may hold open at once; more are answered 429 with Retry-After. Default: Infinity. */
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

export { SSE_HEADERS };

/** What an adapter reads off a request before the app's resolvers run. */
export interface RequestParts {
  /** The query string's parameters. */
  query: URLSearchParams;
  /** The raw `Last-Event-ID` header value, if any. */
  lastEventIdHeader: string | undefined;
}

/**
 * Turns a request into the hub's connect parameters: the app's resolvers (or the `id` and `channel`
 * query defaults), and the Last-Event-ID from the header, else the `lastEventId` query parameter
 * (for clients that cannot set headers).
 */
export function connectParams<Req>(req: Req, parts: RequestParts, options: StreamOptions<Req>): ConnectParams {
  const clientId = options.clientId ? options.clientId(req) : parts.query.get('id') ?? undefined;
  const channels = options.channels ? options.channels(req) : parts.query.getAll('channel');
  // Looked up exactly as received: event ids are visible ASCII, which every client sends back unchanged.
  const lastEventId = parts.lastEventIdHeader || (parts.query.get('lastEventId') ?? undefined);
  return { clientId, channels, lastEventId };
}

function responseHeaders(extra: Record<string, string> | undefined): Record<string, string> {
  return extra ? { ...extra, ...SSE_HEADERS } : { ...SSE_HEADERS };
}

/** Why the hub cannot take a stream right now, or undefined when it can. */
export function hubRefusal(hub: Hub): RefusalReason | undefined {
  return hub.state !== 'open' ? 'shutting-down' : hub.full ? 'hub-full' : undefined;
}

/** Options of {@link serveNode} and {@link serveWeb}. */
export interface ServeOptions extends Pick<StreamOptions<unknown>, 'headers' | 'retryAfter'> {
  /**
   * Whether the request accepts `text/event-stream` (every EventSource's does): a refusal is then a
   * `200` that sets `retry:` and ends, which EventSource survives, instead of a `503`. Default: true.
   */
  eventStream?: boolean;
}

/**
 * Serves one stream on a Node response: sends the headers at once and connects. A hub that is full,
 * draining or closed answers with a {@link refusal} instead. Over HTTP/1 the stream carries
 * `Connection: close`: its connection ends with it, so a reconnect opens a new one (which a load
 * balancer may send elsewhere) and no keep-alive connection stays pinned to a hub going away.
 * The stream is released when the response or its connection closes.
 * @returns the client, or undefined when the request was refused.
 */
export function serveNode(hub: Hub, res: ServerResponse, params: ConnectParams, options: ServeOptions & { gzip?: Gzip } = {}): Client | undefined {
  const refused = hubRefusal(hub);
  if (refused) {
    sendNodeRefusal(res, refusal(refused, { retryAfter: options.retryAfter, eventStream: options.eventStream ?? true, headers: options.headers }));
    return undefined;
  }
  const headers = responseHeaders(options.headers);
  if (isHttp1(res)) headers.Connection = 'close';
  return hub.connect(options.gzip ? new GzipNodeSink(res, headers, options.gzip) : new NodeSink(res, headers), params);
}

/** True for a response to an HTTP/1.x request (HTTP/2 forbids connection headers). */
export function isHttp1(res: ServerResponse): boolean {
  return (res as ServerResponse & { req?: IncomingMessage }).req?.httpVersionMajor === 1;
}

function sendNodeRefusal(res: ServerResponse, a: HttpAnswer): void {
  const headers = a.closeConnection && isHttp1(res) ? { ...a.headers, Connection: 'close' } : a.headers;
  res.writeHead(a.status, headers);
  res.end(a.body);
}

/**
 * Serves one stream as a Web `Response` whose body the hub feeds. Aborting `signal` (the request's)
 * releases it, as does the reader cancelling the body. A hub that is full, draining or closed answers
 * with a {@link refusal} instead.
 */
export function serveWeb(hub: Hub, params: ConnectParams, options: ServeOptions & { signal?: AbortSignal; gzip?: Gzip } = {}): Response {
  const refused = hubRefusal(hub);
  if (refused) {
    const a = refusal(refused, { retryAfter: options.retryAfter, eventStream: options.eventStream ?? true, headers: options.headers });
    return new Response(a.body, { status: a.status, headers: a.headers });
  }
  const sink = options.gzip ? new GzipWebSink(options.gzip) : new WebSink();
  const { signal } = options;
  if (signal) {
    if (signal.aborted) sink.markClosed();
    else {
      const onAbort = () => sink.end();
      signal.addEventListener('abort', onAbort, { once: true });
      sink.onClose(() => signal.removeEventListener('abort', onAbort));
    }
  }
  hub.connect(sink, params);
  const headers = responseHeaders(options.headers);
  if (options.gzip) Object.assign(headers, { 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' });
  return new Response(sink.stream, { status: 200, headers });
}

/** The request parts of a Node request: its query and Last-Event-ID header. */
export function nodeRequestParts(req: IncomingMessage): RequestParts {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const header = req.headers['last-event-id'];
  return {
    query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
    lastEventIdHeader: Array.isArray(header) ? header[0] : header,
  };
}
