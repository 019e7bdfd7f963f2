import type { ConnectParams, Hub } from '../hub/hub';
import { bodiless, type HttpAnswer } from '../policy/http';
import { hubRefusal, refusal } from '../policy/refusal';
import type { StreamOptions } from '../policy/stream-options';
import { SSE_HEADERS } from '../wire/sse-headers';
import type { GzipStream } from '../zlib';
import { GzipWebSink } from './gzip-sink';
import { WebSink } from './sink';

/**
 * An answer as a Web `Response` (no body for HEAD, 204 and 304).
 * @param http1 the request came over HTTP/1.x: an answer that closes its connection says
 *   `Connection: close` (HTTP/2 forbids connection headers). Default: false.
 */
export function webAnswer(a: HttpAnswer, head = false, http1 = false): Response {
  const headers = a.closeConnection && http1 ? { ...a.headers, Connection: 'close' } : a.headers;
  return new Response(bodiless(a, head) ? null : a.body, { status: a.status, headers });
}

/** Options of {@link serveWeb}. */
export interface ServeWebOptions extends Pick<StreamOptions<unknown>, 'headers' | 'retryAfter'> {
  /** Releases the stream when aborted (the request's signal, where a disconnect is reported there). Default: none. */
  signal?: AbortSignal;
  /** Whether the request accepts `text/event-stream`: a refusal is then one EventSource survives. Default: true. */
  eventStream?: boolean;
  /** A compressor: the stream is gzipped through it (`Content-Encoding: gzip`). Default: none. */
  gzip?: GzipStream;
  /**
   * The request came over HTTP/1.x: the stream and refusals say `Connection: close`, so a reconnect
   * opens a new connection (which a load balancer may send elsewhere) and none stays pinned to a hub
   * going away. Default: false, since a Fetch handler cannot see the protocol and HTTP/2 forbids
   * connection headers; adapters that know (a node:http bridge) set it.
   */
  http1?: boolean;
}

/**
 * Serves one stream as a Web `Response` whose body the hub feeds; it starts with a lone `:` line, so
 * its headers go out at once on every runtime. Aborting `signal` releases it, as does the reader
 * cancelling the body. A hub that is full, draining or closed answers with a refusal instead.
 */
export function serveWeb(hub: Hub<any>, params: ConnectParams, options: ServeWebOptions = {}): Response {
  const refused = hubRefusal(hub);
  if (refused) {
    hub.countRefusal(refused);
    const answer = refusal(refused, { retryAfter: options.retryAfter, eventStream: options.eventStream ?? true, headers: options.headers });
    return webAnswer(answer, false, options.http1);
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
  const headers: Record<string, string> = { ...options.headers, ...SSE_HEADERS };
  if (options.gzip) Object.assign(headers, { 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' });
  if (options.http1) headers.Connection = 'close';
  return new Response(sink.stream, { status: 200, headers });
}

/**
 * The signal that tells a stream its client left: the request's, for runtimes where a disconnect may
 * not cancel the body (Cloudflare Workers report it on `request.signal` only). None on Deno:
 * `Deno.serve` cancels the body when the client goes, and once a handler has read `request.signal`
 * it warns when the response completes ("request.signal aborts on successful responses (legacy
 * behavior)"), since its default legacy mode also aborts that signal on success.
 */
export function disconnectSignal(request: Request): AbortSignal | undefined {
  return onDeno() ? undefined : request.signal;
}

function onDeno(): boolean {
  return typeof (globalThis as { Deno?: { version?: { deno?: unknown } } }).Deno?.version?.deno === 'string';
}
