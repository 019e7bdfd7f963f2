/**
 * The routes: ssehub's stream at `/events` and publish API under `/api`, the channel routes on
 * `/<channel>` (GET subscribes to one channel, POST publishes to it, HEAD counts its streams, DELETE
 * ends them, with `all` for every subscriber), and the operations routes reserved for health and metrics. The channel
 * routes keep the paths, headers and formats of railsmechanic/eventsource's REST API, so its
 * publishers and subscribers work unchanged. Everything is core's: `nodeStreamHandler` serves
 * streams, `createPublishHandler` answers publishing, deleting and counts (the channel routes are
 * mapped onto its paths, so validation and status codes are the same on both), and this file only
 * maps paths.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hub } from '@ssehub/core';
import {
  checkToken,
  corsHeaders,
  jsonAnswer,
  preflight,
  type CorsOptions,
  type HeaderReader,
  type HttpAnswer,
  type PublishHandler,
  type PublishRequest,
  type StreamAuthorization,
  type StreamOptions,
} from '@ssehub/core/adapter';
import { nodeHeaderReader, nodePublishRequest, nodeStreamHandler, sendNodeAnswer, type NodeStreamHandler } from '@ssehub/core/adapter/node';
import type { ServerConfig } from './config';
import type { Grant, SubscriberAuth } from './jwt';
import type { Logger } from './log';

/** The channel name that means "every subscriber": `POST /all` reaches every stream, `DELETE /all` ends them all. */
export const ALL = 'all';

/** ssehub's own stream. */
export const STREAM_PATH = '/events';
/** ssehub's publish API (`/api/broadcast`, `/api/channels/:channel`, `/api/clients/:clientId`). */
export const API_PREFIX = '/api';

/**
 * The operations routes: `/healthz` (liveness) and `/readyz` (readiness) from `hub.health()`, open to
 * any caller (load balancers send no token); `/metrics` in Prometheus' text format, behind the
 * publish token unless the server is `--public`. No channel can take their names on `/<channel>`.
 */
export const OPERATIONS_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/** First path segments that are routes of their own, so never a channel of the channel routes. */
export const RESERVED_SEGMENTS: ReadonlySet<string> = new Set([STREAM_PATH, API_PREFIX, ...OPERATIONS_PATHS].map((p) => p.slice(1)));

/** What the routes need. */
export interface RouteContext {
  hub: Hub<any>;
  config: ServerConfig;
  cors: CorsOptions | undefined;
  publish: PublishHandler<IncomingMessage>;
  /** The Prometheus registry `/metrics` serves (the hub's metrics, by `@ssehub/metrics`). */
  metrics: { metrics(): Promise<string>; readonly contentType: string };
  /** Present when subscribers must show a token (JWT). */
  subscribers: SubscriberAuth | undefined;
  log: Logger;
  version: string;
}

/** The two stream handlers: `/events` (channels from the query) and `/<channel>` (the path's). */
interface Streams {
  events: NodeStreamHandler<IncomingMessage>;
  channel: NodeStreamHandler<IncomingMessage>;
}

/** What one stream request carries between the route and core's hooks. */
interface StreamState {
  /** The channels the path names; undefined on `/events` (the query names them). */
  channels?: string[];
  /** The token's grant, once `authorize` has verified it. */
  grant?: Grant;
}

const streamState = new WeakMap<IncomingMessage, StreamState>();

/** Options of a stream handler: the path's channels (the channel routes) and the token check. */
function streamOptions(ctx: RouteContext, pathChannels: boolean): StreamOptions<IncomingMessage> {
  const options: StreamOptions<IncomingMessage> = { cors: ctx.cors };
  if (pathChannels) options.channels = (req) => streamState.get(req)?.channels ?? [];
  const auth = ctx.subscribers;
  if (auth) {
    options.authorize = async (req): Promise<StreamAuthorization> => {
      const state = streamState.get(req) ?? {};
      const verdict = await auth.authorize(req, state.channels ?? queryOf(req).getAll('channel'));
      if ('status' in verdict) return verdict;
      state.grant = verdict;
      streamState.set(req, state);
      // Every requested channel is granted (else the verdict was 403); the client id is the token's.
      return { clientId: verdict.clientId };
    };
  }
  return options;
}

/** A Node request listener serving every route. */
export function createRouter(ctx: RouteContext): (req: IncomingMessage, res: ServerResponse) => void {
  const streams: Streams = {
    events: nodeStreamHandler(ctx.hub, streamOptions(ctx, false)),
    channel: nodeStreamHandler(ctx.hub, streamOptions(ctx, true)),
  };
  return (req, res) => {
    const started = Date.now();
    if (ctx.log.isLevelEnabled('debug')) {
      // The path only: a query may carry a subscriber's token.
      res.once('close', () =>
        ctx.log.debug({ method: req.method, path: pathOf(req.url), status: res.statusCode, ms: Date.now() - started }, 'request'),
      );
    }
    route(ctx, streams, req, res).catch((err: unknown) => {
      ctx.log.error({ err, method: req.method, path: pathOf(req.url) }, 'request failed');
      if (!res.headersSent) sendNodeAnswer(res, json(500, { error: 'internal error' }));
      else res.destroy();
    });
  };
}

async function route(ctx: RouteContext, streams: Streams, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = pathOf(req.url);
  const method = (req.method ?? 'GET').toUpperCase();
  if (path === undefined) return send(res, req, json(400, { error: 'bad request target' }));
  if (path === STREAM_PATH) return serveStream(ctx, streams.events, req, res, undefined);
  if (path === API_PREFIX || path.startsWith(API_PREFIX + '/')) {
    const answer = await ctx.publish(publishRequest(req, path.slice(API_PREFIX.length) || '/'));
    return send(res, req, answer ?? notFound());
  }
  if (OPERATIONS_PATHS.has(path)) return operations(ctx, req, res, path, method);
  if (path === '/') return send(res, req, method === 'GET' || method === 'HEAD' ? index(ctx) : notAllowed(['GET', 'HEAD']));

  // The channel routes: one path segment names the channel.
  const m = /^\/([^/]+)$/.exec(path);
  if (!m) return send(res, req, notFound());
  const raw = m[1]!;
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return send(res, req, json(400, { error: 'the path is not valid percent-encoding' }));
  }
  if (RESERVED_SEGMENTS.has(name)) return send(res, req, notFound());
  return channelRoute(ctx, streams, req, res, method, raw, name);
}

/** GET subscribes, POST publishes, DELETE closes, HEAD counts; `all` is every subscriber. */
async function channelRoute(
  ctx: RouteContext,
  streams: Streams,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  raw: string,
  name: string,
): Promise<void> {
  const all = name === ALL;
  switch (method) {
    case 'GET':
      // GET /all: the global broadcasts (what POST /all sends), which every subscriber receives.
      return serveStream(ctx, streams.channel, req, res, all ? [] : [name]);
    case 'POST':
      return forward(ctx, req, res, all ? '/broadcast' : `/channels/${raw}`);
    case 'HEAD': {
      const answer = (await ctx.publish(publishRequest(req, all ? '/' : `/channels/${raw}`)))!;
      // The channel routes list the channels as `[a,b]`; the publish API as `a,b`.
      const list = answer.headers['X-Available-Channels'];
      if (answer.status === 200 && list !== undefined) answer.headers['X-Available-Channels'] = `[${list}]`;
      return send(res, req, answer);
    }
    case 'DELETE':
      return all ? closeAll(ctx, req, res) : forward(ctx, req, res, `/channels/${raw}`);
    case 'OPTIONS':
      if (!ctx.cors) return send(res, req, { status: 204, headers: { Allow: CHANNEL_METHODS.join(', ') }, body: '' });
      return send(res, req, preflight(ctx.cors, nodeHeaderReader(req), CHANNEL_METHODS, ['Last-Event-ID', 'Authorization', 'Content-Type', 'Auth-Token']));
    default:
      return send(res, req, notAllowed(CHANNEL_METHODS));
  }
}

const CHANNEL_METHODS = ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'];

async function forward(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  send(res, req, (await ctx.publish(publishRequest(req, path)))!);
}

/**
 * Serves a stream. `channels`: the channels the path names (the channel routes), or undefined for
 * `/events`, whose `channel` query parameters name them.
 */
async function serveStream(
  ctx: RouteContext,
  handler: NodeStreamHandler<IncomingMessage>,
  req: IncomingMessage,
  res: ServerResponse,
  channels: string[] | undefined,
): Promise<void> {
  streamState.set(req, { channels });
  const served = await handler(req, req, res);
  if (!served) {
    // Not GET (nor a CORS preflight).
    if (req.method === 'OPTIONS') return send(res, req, { status: 204, headers: { Allow: 'GET, OPTIONS' }, body: '' });
    return send(res, req, notAllowed(['GET', 'OPTIONS']));
  }
  const expiresAt = streamState.get(req)?.grant?.expiresAt;
  if (expiresAt !== undefined && !res.writableEnded) endAtExpiry(ctx, res, expiresAt);
}

/**
 * Ends a stream when its token expires: the client reconnects, and gets back in only with a token
 * that is still valid (a page that refreshes its cookie does; a stale `?authorization=` does not).
 */
function endAtExpiry(ctx: RouteContext, res: ServerResponse, expiresAt: number): void {
  const ms = Math.min(Math.max(expiresAt - Date.now(), 0), 2 ** 31 - 1);
  const timer = setTimeout(() => {
    ctx.log.debug('ended a stream whose token expired');
    if (!res.writableEnded) res.end();
  }, ms);
  timer.unref();
  res.once('close', () => clearTimeout(timer));
}

/**
 * `/healthz`: 200 while the hub is alive (not closed); `/readyz`: 200 while it should receive new
 * streams, else 503 with the reasons; `/metrics`: the Prometheus exposition, with the publish token.
 */
async function operations(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, path: string, method: string): Promise<void> {
  if (method !== 'GET' && method !== 'HEAD') return send(res, req, notAllowed(['GET', 'HEAD']));
  const health = ctx.hub.health();
  if (path === '/healthz') return send(res, req, json(health.live ? 200 : 503, { live: health.live, state: health.state }));
  if (path === '/readyz') return send(res, req, json(health.ready ? 200 : 503, health));
  const { tokens } = ctx.config;
  const denied = tokens.length ? checkToken(tokens, publisherHeaders(nodeHeaderReader(req))('authorization')) : undefined;
  if (denied) {
    const challenge: Record<string, string> = denied.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {};
    return send(res, req, json(denied.status, { error: denied.message }, challenge));
  }
  const body = await ctx.metrics.metrics();
  send(res, req, { status: 200, headers: { 'Content-Type': ctx.metrics.contentType, 'Cache-Control': 'no-store' }, body });
}

/** DELETE /all: every stream ends (clients reconnect and resume); behind the publish token unless the server is public. */
function closeAll(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): void {
  const header = publisherHeaders(nodeHeaderReader(req));
  const extra = ctx.cors ? corsHeaders(ctx.cors, header('origin')) : {};
  if (!extra) return send(res, req, json(403, { error: 'origin not allowed' }));
  // The publish API's check, in its order: no token 401 (with the challenge), a wrong one 403.
  const { tokens } = ctx.config;
  const denied = tokens.length ? checkToken(tokens, header('authorization')) : undefined;
  if (denied) {
    const challenge: Record<string, string> = denied.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {};
    return send(res, req, json(denied.status, { error: denied.message }, { ...extra, ...challenge }));
  }
  send(res, req, json(200, { closed: ctx.hub.disconnectAll() }, extra));
}

/** The publish handler's request for a Node request at `path` (relative to the API). */
function publishRequest(req: IncomingMessage, path: string): PublishRequest<IncomingMessage> {
  const base = nodePublishRequest(req, req, path);
  return { ...base, header: publisherHeaders(base.header) };
}

/**
 * A publisher may send its token as `Auth-Token: <token>`; it counts as `Authorization: Bearer <token>`
 * when no Authorization header is there.
 */
function publisherHeaders(header: HeaderReader): HeaderReader {
  return (name) => {
    if (name !== 'authorization') return header(name);
    const auth = header('authorization');
    if (auth !== undefined) return auth;
    const token = header('auth-token')?.trim();
    return token ? `Bearer ${token}` : undefined;
  };
}

/** The request's path without the query (percent-encoding kept), or undefined for a bad target. */
export function pathOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
  if (/^https?:\/\//i.test(path)) {
    // Absolute form (a proxy's request): its path.
    try {
      path = new URL(path).pathname;
    } catch {
      return undefined;
    }
  }
  return path.startsWith('/') ? path : undefined;
}

function queryOf(req: IncomingMessage): URLSearchParams {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
}

function send(res: ServerResponse, req: IncomingMessage, answer: HttpAnswer): void {
  if (res.headersSent || res.destroyed) return;
  sendNodeAnswer(res, answer, req.method === 'HEAD');
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}): HttpAnswer => jsonAnswer(status, value, headers);

function notFound(): HttpAnswer {
  return json(404, { error: 'no such route' });
}

function notAllowed(allow: readonly string[]): HttpAnswer {
  return json(405, { error: 'method not allowed here' }, { Allow: allow.join(', ') });
}

/** GET /: what this server is and where things are, as plain text. */
function index(ctx: RouteContext): HttpAnswer {
  const open = ctx.config.public ? ' (open: --public)' : ' (Authorization: Bearer <token>)';
  const body = [
    `ssehub ${ctx.version}`,
    '',
    `GET  /events?channel=<name>   subscribe (repeat channel for several; none: global broadcasts only)${ctx.subscribers ? '; a token is required' : ''}`,
    'GET  /<channel>               subscribe to one channel (railsmechanic/eventsource)',
    'GET  /all                     subscribe to global broadcasts only',
    `POST /<channel>               publish {"data", "event"?, "id"?} to a channel${open}`,
    'POST /all                     publish to every subscriber',
    'GET  /healthz, /readyz        liveness and readiness for probes (no token)',
    `GET  /metrics                 Prometheus metrics${open}`,
    'HEAD /<channel>, HEAD /all    X-Consumer-Count, X-Channel-Exists, X-Available-Channels',
    'DELETE /<channel>, /all       end that channel\'s streams, or every stream',
    'ANY  /api/...                 the publish API: /api/broadcast, /api/channels/<name>, /api/clients/<id>',
    '',
  ].join('\n');
  return { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }, body };
}
