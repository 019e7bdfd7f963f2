import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gzip } from 'node:zlib';
import type { Client } from '../hub/connection';
import type { ConnectParams, Hub } from '../hub/hub';
import { bodiless, type HttpAnswer } from '../policy/http';
import { hubRefusal, refusal } from '../policy/refusal';
import type { StreamOptions } from '../policy/stream-options';
import { SSE_HEADERS } from '../wire/sse-headers';
import { GzipNodeSink } from './gzip-sink';
import { NodeSink } from './sink';

/** True for a response to an HTTP/1.x request (HTTP/2 forbids connection headers). */
export function isHttp1(res: ServerResponse): boolean {
  return (res as ServerResponse & { req?: IncomingMessage }).req?.httpVersionMajor === 1;
}

/**
 * Sends an answer on a Node response: its status and headers (with `Connection: close` over HTTP/1
 * when it asks for it), and its body unless the request was HEAD or the status has none.
 */
export function sendNodeAnswer(res: ServerResponse, a: HttpAnswer, head = false): void {
  res.writeHead(a.status, a.closeConnection && isHttp1(res) ? { ...a.headers, Connection: 'close' } : a.headers);
  res.end(bodiless(a, head) ? undefined : a.body);
}

/** Options of {@link serveNode}. */
export interface ServeNodeOptions extends Pick<StreamOptions<unknown>, 'headers' | 'retryAfter'> {
  /**
   * Whether the request accepts `text/event-stream` (every EventSource's does): a refusal is then a
   * `200` that sets `retry:` and ends, which EventSource survives, instead of a `503`. Default: true.
   */
  eventStream?: boolean;
  /** A compressor: the stream is gzipped through it (`Content-Encoding: gzip`). Default: none. */
  gzip?: Gzip;
}

/**
 * Serves one stream on a Node response: sends the headers at once and connects. A hub that is full,
 * draining or closed answers with a refusal instead. Over HTTP/1 the stream carries
 * `Connection: close`: its connection ends with it, so a reconnect opens a new one (which a load
 * balancer may send elsewhere) and no keep-alive connection stays pinned to a hub going away.
 * The stream is released when the response or its connection closes.
 * @returns the client, or undefined when the request was refused.
 */
export function serveNode(hub: Hub<any>, res: ServerResponse, params: ConnectParams, options: ServeNodeOptions = {}): Client | undefined {
  const refused = hubRefusal(hub);
  if (refused) {
    hub.countRefusal(refused);
    sendNodeAnswer(res, refusal(refused, { retryAfter: options.retryAfter, eventStream: options.eventStream ?? true, headers: options.headers }));
    return undefined;
  }
  const headers: Record<string, string> = { ...options.headers, ...SSE_HEADERS };
  if (isHttp1(res)) headers.Connection = 'close';
  return hub.connect(options.gzip ? new GzipNodeSink(res, headers, options.gzip) : new NodeSink(res, headers), params);
}
