import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gzip } from 'node:zlib';
import type { CorsOptions } from './access';
import type { StreamAuthorization } from './admission';
import type { Client } from './client';
import type { ConnectParams, Hub } from './hub';
import { GzipNodeSink } from './sinks/gzip';
import { GzipWebSink } from './sinks/gzip-web';
import { NodeSink } from './sinks/node';
import { WebSink } from './sinks/web';

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

/** The response headers of every stream. `no-transform` also keeps `compression` middleware off it. */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
});

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

/**
 * Serves one stream on a Node response: answers 503 when the hub is full, otherwise sends the headers
 * at once and connects. The stream is released when the response closes.
 * @returns the client, or undefined when the request was refused.
 */
export function serveNode(
  hub: Hub,
  res: ServerResponse,
  params: ConnectParams,
  options: Pick<StreamOptions<unknown>, 'headers' | 'retryAfter'> & { gzip?: Gzip } = {},
): Client | undefined {
  if (hub.full || hub.closed) {
    res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': String(options.retryAfter ?? 5) });
    res.end(hub.closed ? 'ssehub: shutting down\n' : 'ssehub: too many connections\n');
    return undefined;
  }
  const headers = responseHeaders(options.headers);
  return hub.connect(options.gzip ? new GzipNodeSink(res, headers, options.gzip) : new NodeSink(res, headers), params);
}

/**
 * Serves one stream as a Web `Response` whose body the hub feeds. Aborting `signal` (the request's)
 * releases it, as does the reader cancelling the body.
 */
export function serveWeb(
  hub: Hub,
  params: ConnectParams,
  options: Pick<StreamOptions<unknown>, 'headers' | 'retryAfter'> & { signal?: AbortSignal; gzip?: Gzip } = {},
): Response {
  if (hub.full || hub.closed) {
    return new Response(hub.closed ? 'ssehub: shutting down\n' : 'ssehub: too many connections\n', {
      status: 503,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': String(options.retryAfter ?? 5) },
    });
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
