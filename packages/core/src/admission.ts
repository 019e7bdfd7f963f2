import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  acceptsGzip,
  checkCors,
  checkLimit,
  corsHeaders,
  preflight,
  textAnswer,
  type Denial,
  type HeaderReader,
  type HttpAnswer,
} from './access';
import type { Client } from './client';
import type { ConnectParams, Hub } from './hub';
import { channelProblem } from './validate';
import { refusal, wantsEventStream } from './refusal';
import { connectParams, hubRefusal, isHttp1, nodeRequestParts, serveNode, serveWeb, type RequestParts, type StreamOptions } from './serve';

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

/** What a request to a stream endpoint turns into. */
export type Admission =
  /** Not a stream request (a method other than GET, or OPTIONS without CORS): the next handler's. */
  | { kind: 'pass' }
  /** A preflight or a refusal, to send as it is; nothing was registered. */
  | { kind: 'answer'; answer: HttpAnswer }
  /**
   * Open a stream with these connect parameters and extra headers; gzip it when `gzip` is true.
   * `eventStream`: the request accepts `text/event-stream`, so a late refusal is one EventSource survives.
   */
  | { kind: 'stream'; params: ConnectParams; headers: Record<string, string>; gzip: boolean; eventStream: boolean };

/** What {@link admitStream} reads off a request: the query, the Last-Event-ID, the method, any header. */
export interface StreamRequest extends RequestParts {
  method: string;
  header: HeaderReader;
}

/** The stream request of a Node request. */
export function nodeStreamRequest(req: IncomingMessage): StreamRequest {
  return { ...nodeRequestParts(req), method: req.method ?? 'GET', header: nodeHeaderReader(req) };
}

/** The stream request of a Web `Request`. */
export function webStreamRequest(request: Request): StreamRequest {
  const header: HeaderReader = (name) => request.headers.get(name) ?? undefined;
  return {
    query: new URL(request.url).searchParams,
    lastEventIdHeader: header('last-event-id'),
    method: request.method,
    header,
  };
}

/** Reads a Node request header (the first value when repeated). */
export function nodeHeaderReader(req: IncomingMessage): HeaderReader {
  return (name) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
}

/**
 * Checks the access options of a stream handler, so a bad one fails when the handler is created
 * rather than on a request. Adapters call it in `sse()`.
 * @throws TypeError for `cors.origins: '*'` with credentials, or a limit that is not a positive integer.
 */
export function checkStreamOptions(options: StreamOptions<any>): void {
  checkCors(options.cors);
  checkLimit('maxConnectionsPerClient', options.maxConnectionsPerClient);
  checkLimit('maxChannels', options.maxChannels);
  if (options.authorize !== undefined && typeof options.authorize !== 'function') {
    throw new TypeError('ssehub: authorize must be a function');
  }
}

/**
 * Decides what a stream request gets, in this order: CORS preflight, method, origin allowlist, a hub
 * that is draining, closed or full (a refusal), `authorize`, channel names (400 for one `broadcast`
 * would refuse), channel cap, per-client-id limit (a refusal). Refusals are answered before anything
 * is registered with the hub; a request that accepts `text/event-stream` is refused in a way
 * EventSource recovers from (see `refusal`).
 * @param req the framework's request object, handed to `authorize` and the resolvers.
 */
export async function admitStream<Req>(
  hub: Hub<any>,
  req: Req,
  request: StreamRequest,
  options: StreamOptions<Req>,
): Promise<Admission> {
  const { cors } = options;
  if (request.method === 'OPTIONS') {
    if (!cors) return { kind: 'pass' };
    return { kind: 'answer', answer: preflight(cors, request.header, ['GET'], ['Last-Event-ID']) };
  }
  if (request.method !== 'GET') return { kind: 'pass' };

  const extra = cors ? corsHeaders(cors, request.header('origin')) : {};
  // Refusing here saves a connection the browser would not let the page read anyway.
  if (!extra) return answer(textAnswer(403, 'ssehub: origin not allowed\n'));
  const eventStream = wantsEventStream(request.header('accept'));
  // Before `authorize`: a hub that cannot take the stream anyway spends nothing on it.
  const refused = hubRefusal(hub);
  if (refused) return answer(refusal(refused, { retryAfter: options.retryAfter, eventStream, headers: extra }));

  let params = connectParams(req, request, options);
  if (options.authorize) {
    const verdict: unknown = await options.authorize(req);
    if (verdict === true) {
      // Allowed; the usual resolvers name the client and its channels.
    } else if (isDenial(verdict)) {
      // Any status other than 401 counts as 403: a refusal never turns into a grant.
      const status = verdict.status === 401 ? 401 : 403;
      const message = typeof verdict.message === 'string' ? verdict.message : reasonOf(status);
      return answer(textAnswer(status, `ssehub: ${message}\n`, extra));
    } else if (verdict !== null && typeof verdict === 'object') {
      params = grant(params, verdict as StreamGrant);
    } else {
      return answer(textAnswer(403, `ssehub: ${reasonOf(403)}\n`, extra));
    }
  }

  const channels = new Set<string>();
  for (const ch of params.channels ?? []) {
    const problem = channelProblem(ch);
    // The rule `broadcast` applies: a subscription nothing could ever reach is refused, not kept.
    if (problem) return answer(textAnswer(400, `ssehub: channel ${problem}\n`, extra));
    channels.add(ch as string);
  }
  const maxChannels = options.maxChannels ?? 64;
  if (channels.size > maxChannels) {
    return answer(textAnswer(400, `ssehub: too many channels (at most ${maxChannels})\n`, extra));
  }
  const maxPerClient = options.maxConnectionsPerClient ?? Infinity;
  if (params.clientId && hub.clientSize(params.clientId) >= maxPerClient) {
    return answer(refusal('client-limit', { retryAfter: options.retryAfter, eventStream, headers: extra }));
  }
  const gzip = options.compress === true && acceptsGzip(request.header('accept-encoding'));
  return {
    kind: 'stream',
    params: { ...params, channels },
    headers: { ...options.headers, ...extra },
    gzip,
    eventStream,
  };
}

function answer(a: HttpAnswer): Admission {
  return { kind: 'answer', answer: a };
}

/** An object with a `status` is a refusal, whatever the number. */
function isDenial(v: unknown): v is Denial {
  return v !== null && typeof v === 'object' && 'status' in v;
}

function reasonOf(status: number): string {
  return status === 401 ? 'authentication required' : 'forbidden';
}

/** Applies a grant: the granted client id replaces the requested one; channels are narrowed to the granted ones. */
function grant(params: ConnectParams, g: StreamGrant): ConnectParams {
  const clientId = typeof g.clientId === 'string' && g.clientId !== '' ? g.clientId : undefined;
  if (g.channels === undefined) return { ...params, clientId };
  const allowed = new Set(g.channels);
  const channels = [...(params.channels ?? [])].filter((ch) => allowed.has(ch));
  return { ...params, clientId, channels };
}

/** Sends an answer on a Node response (with `Connection: close` over HTTP/1 when it asks for it). */
export function sendNodeAnswer(res: ServerResponse, a: HttpAnswer, head = false): void {
  res.writeHead(a.status, a.closeConnection && isHttp1(res) ? { ...a.headers, Connection: 'close' } : a.headers);
  res.end(head || a.status === 204 || a.status === 304 ? undefined : a.body);
}

/** An answer as a Web `Response`. */
export function webAnswer(a: HttpAnswer, head = false): Response {
  const empty = head || a.status === 204 || a.status === 304;
  return new Response(empty ? null : a.body, { status: a.status, headers: a.headers });
}

/** node:zlib, imported on first use so core loads nothing Node-only unless compression is asked for. */
let zlib: Promise<typeof import('node:zlib') | undefined> | undefined;

/** A new gzip compressor, or undefined on a runtime without `node:zlib` (the stream is then sent as it is). */
async function createGzip(): Promise<import('node:zlib').Gzip | undefined> {
  zlib ??= import('node:zlib').catch(() => undefined);
  return (await zlib)?.createGzip();
}

/**
 * Sends what {@link admitStream} decided on a Node response: the answer, or the stream (gzipped
 * when the admission says so). Does nothing for `'pass'` or when the peer has already gone.
 * @returns the client, or undefined when none was connected.
 */
export async function respondNode(
  hub: Hub<any>,
  res: ServerResponse,
  admission: Admission,
  options: Pick<StreamOptions<unknown>, 'retryAfter'> = {},
): Promise<Client | undefined> {
  if (admission.kind === 'pass') return undefined;
  const gzip = admission.kind === 'stream' && admission.gzip ? await createGzip() : undefined;
  // The peer may have left while `authorize` ran: registering it now would leak a connection.
  if (res.destroyed || res.socket?.destroyed) return undefined;
  if (admission.kind === 'answer') {
    sendNodeAnswer(res, admission.answer);
    return undefined;
  }
  return serveNode(hub, res, admission.params, {
    retryAfter: options.retryAfter,
    headers: admission.headers,
    gzip,
    eventStream: admission.eventStream,
  });
}

/**
 * Serves a stream request on a Node response, end to end: admission, then the answer or the stream.
 * Adapters over Node's `http` (Express, Koa) call this and only translate.
 * @returns `'pass'` when the request is not for the stream (the adapter calls its `next`), else the
 *   client (undefined when refused).
 */
export async function handleNodeStream<Req>(
  hub: Hub<any>,
  req: Req,
  nodeReq: IncomingMessage,
  res: ServerResponse,
  options: StreamOptions<Req>,
): Promise<'pass' | Client | undefined> {
  const a = await admitStream(hub, req, nodeStreamRequest(nodeReq), options);
  return a.kind === 'pass' ? 'pass' : respondNode(hub, res, a, options);
}

/**
 * Serves a stream request as a Web `Response`: admission, then the answer or the stream.
 * @returns undefined when the request is not for the stream (a method other than GET, or OPTIONS without CORS).
 */
export async function handleWebStream<Req>(
  hub: Hub<any>,
  req: Req,
  request: Request,
  options: StreamOptions<Req>,
): Promise<Response | undefined> {
  const a = await admitStream(hub, req, webStreamRequest(request), options);
  if (a.kind === 'pass') return undefined;
  if (a.kind === 'answer') return webAnswer(a.answer);
  const gzip = a.gzip ? await createGzip() : undefined;
  return serveWeb(hub, a.params, {
    retryAfter: options.retryAfter,
    headers: a.headers,
    signal: disconnectSignal(request),
    gzip,
    eventStream: a.eventStream,
  });
}

/**
 * The signal that tells a stream its client left: the request's, for runtimes where a disconnect may
 * not cancel the body (Cloudflare Workers report it on `request.signal` only). None on Deno:
 * `Deno.serve` cancels the body when the client goes, and once a handler has read `request.signal`
 * it warns when the response completes ("request.signal aborts on successful responses (legacy
 * behavior)"), since its default legacy mode also aborts that signal on success.
 */
function disconnectSignal(request: Request): AbortSignal | undefined {
  return onDeno() ? undefined : request.signal;
}

function onDeno(): boolean {
  return typeof (globalThis as { Deno?: { version?: { deno?: unknown } } }).Deno?.version?.deno === 'string';
}
