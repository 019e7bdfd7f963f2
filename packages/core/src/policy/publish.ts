import type { Hub } from '../hub/hub';
import type { Message } from '../message';
import { channelProblem, messageProblem, type FieldProblem } from '../wire/validate';
import { checkCors, checkLimit, checkToken, corsHeaders, preflight, verdictOf, type CorsOptions, type Denial } from './access';
import { jsonAnswer, type HeaderReader, type HttpAnswer } from './http';

/**
 * Options of the publish/admin handler (`publish(hub, options)` in each adapter). One of `token`,
 * `authorize` or `public: true` is required, so an open endpoint is always a deliberate choice.
 */
export interface PublishOptions<Req> {
  /** Bearer token(s) accepted in `Authorization: Bearer <token>`, compared in constant time. Default: none. */
  token?: string | readonly string[];
  /**
   * Decides whether a request may use the API (after the token, when both are given): `true` allows,
   * `false` answers 403, `{ status: 401 | 403, message }` answers that. May be async. Default: none.
   */
  authorize?: (req: Req) => boolean | Denial | Promise<boolean | Denial>;
  /** Serve the API with no access check at all. Default: false. */
  public?: boolean;
  /** Largest request body accepted, in bytes; a larger one is answered 413. Default: 65536 (64 KiB). */
  maxBodyBytes?: number;
  /**
   * Where the API is mounted, stripped from the request path; requests outside it go to the next
   * handler. Express strips its mount path itself (`app.use('/api', ...)`), so leave it empty there.
   * Default: `''`.
   */
  prefix?: string;
  /** CORS for browser callers; preflights allow `Authorization` and `Content-Type`. Default: none. */
  cors?: CorsOptions;
}

/** The defaults of {@link PublishOptions}, in one place. */
export const PUBLISH_DEFAULTS = Object.freeze({ maxBodyBytes: 64 * 1024, prefix: '' });

/** A request to the publish handler, as an adapter reads it off its framework. */
export interface PublishRequest<Req> {
  /** The framework's request object, handed to `authorize`. */
  req: Req;
  /** The request's HTTP method, as received (compared case-insensitively). */
  method: string;
  /** The path without the query string (not percent-decoded), relative to where the handler is mounted. */
  path: string;
  /** Reads one request header by its lower-case name. */
  header: HeaderReader;
  /** Reads the raw body; resolves `undefined` when it is longer than `limit` bytes. */
  readBody(limit: number): Promise<Uint8Array | undefined>;
  /** A body that middleware upstream (`express.jsonAnswer()`, `koa-bodyparser`) already parsed, if any. */
  parsedBody?: unknown;
}

/** The publish handler: an answer to send, or `undefined` when the path is outside `prefix`. */
export type PublishHandler<Req> = (request: PublishRequest<Req>) => Promise<HttpAnswer | undefined>;

type Route =
  | { kind: 'root' }
  | { kind: 'broadcast' }
  | { kind: 'channel'; name: string }
  | { kind: 'client'; name: string };

const ALLOW: Record<Route['kind'], string[]> = {
  root: ['GET', 'HEAD'],
  broadcast: ['POST'],
  channel: ['GET', 'HEAD', 'POST', 'DELETE'],
  client: ['GET', 'HEAD', 'POST', 'DELETE'],
};
/** Characters of the X-Available-Channels header at most. */
const MAX_CHANNELS_HEADER = 4096;
/** The root and everything under `/broadcast`, `/channels` and `/clients`: what this handler answers. */
const OWN_PATH = /^(?:\/?|\/(?:broadcast|channels|clients)(?:\/.*)?)$/;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Creates the framework-agnostic publish/admin handler. It answers the root and every path under
 * `/broadcast`, `/channels` and `/clients` (404 for unknown operations there) and passes other paths
 * on, so mount it under a path of its own. Routes, relative to where it is mounted:
 * - `POST /broadcast`: a message to every stream. Body: JSON `{ data, event?, id?, retry? }`.
 * - `POST /channels/:channel`, `POST /clients/:clientId`: a message to one channel or one client id.
 *   All three answer 201 with `{ id, consumers }`: the event id and the streams it reached now.
 * - `DELETE /channels/:channel`, `DELETE /clients/:clientId`: ends those streams; 200 `{ closed }`.
 * - `GET` (JSON) and `HEAD` (headers `X-Consumer-Count`, `X-Channel-Exists` or `X-Client-Connected`,
 *   `X-Available-Channels`) on `/`, `/channels/:channel` and `/clients/:clientId`: consumer counts.
 * Errors answer JSON `{ error, field? }`: 400 invalid input, 401/403 access, 404 unknown route,
 * 405 with Allow, 413 body too large, 415 not JSON, 503 hub closed. Nothing is published on an error.
 * @throws TypeError when none of `token`, `authorize` and `public: true` is given.
 */
export function createPublishHandler<Req>(hub: Hub<any>, options: PublishOptions<Req>): PublishHandler<Req> {
  const { authorize, cors, prefix = PUBLISH_DEFAULTS.prefix, maxBodyBytes = PUBLISH_DEFAULTS.maxBodyBytes } = options;
  const tokens = options.token === undefined ? [] : typeof options.token === 'string' ? [options.token] : [...options.token];
  if (tokens.some((t) => typeof t !== 'string' || t === '')) throw new TypeError('ssehub: publish token must be a non-empty string');
  if (!tokens.length && !authorize && options.public !== true) {
    throw new TypeError('ssehub: publish() needs a token or an authorize hook (or public: true to serve it open)');
  }
  checkCors(cors);
  checkLimit('maxBodyBytes', maxBodyBytes);
  if (prefix !== '' && (!prefix.startsWith('/') || prefix.endsWith('/'))) {
    throw new TypeError("ssehub: publish prefix must start with '/' and not end with it");
  }

  return async function publishHandler(request: PublishRequest<Req>): Promise<HttpAnswer | undefined> {
    let path = request.path;
    if (prefix) {
      if (path !== prefix && !path.startsWith(prefix + '/')) return undefined;
      path = path.slice(prefix.length);
    }
    // Paths outside the API's own segments belong to the app's other routes.
    if (!OWN_PATH.test(path)) return undefined;
    const method = request.method.toUpperCase();
    const head = method === 'HEAD';
    const extra = cors ? corsHeaders(cors, request.header('origin')) : {};
    if (!extra) return error(403, 'origin not allowed', {}, head);
    const route = parseRoute(path);
    if (method === 'OPTIONS') {
      if (!route) return error(404, 'no such route', extra, false);
      const allow = ALLOW[route.kind];
      if (cors) return preflight(cors, request.header, allow, ['Authorization', 'Content-Type']);
      return { status: 204, headers: { ...extra, Allow: [...allow, 'OPTIONS'].join(', ') }, body: '' };
    }

    // Credentials first: an unauthenticated caller learns nothing, not even which routes exist.
    const denied = tokens.length ? checkToken(tokens, request.header('authorization')) : undefined;
    if (denied) {
      const challenge: Record<string, string> = denied.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {};
      return error(denied.status, denied.message!, { ...extra, ...challenge }, head);
    }
    if (authorize) {
      const verdict = verdictOf(await authorize(request.req), false);
      if (verdict !== 'allow') {
        const d = verdict as Required<Denial>;
        return error(d.status, d.message, extra, head);
      }
    }

    if (route === null) return error(400, 'the path is not valid percent-encoding', extra, head);
    if (route === undefined) return error(404, 'no such route', extra, head);
    const allow = ALLOW[route.kind];
    if (!allow.includes(method)) {
      return error(405, `method ${method} not allowed here`, { ...extra, Allow: [...allow, 'OPTIONS'].join(', ') }, head);
    }
    if (route.kind === 'channel') {
      const problem = channelProblem(route.name);
      if (problem) return error(400, `channel ${problem}`, extra, head, 'channel');
    }
    if (method === 'GET' || head) return jsonAnswer(200, stats(hub, route), { ...extra, ...statHeaders(hub, route) }, head);
    if (method === 'DELETE') {
      const closed = route.kind === 'channel' ? hub.closeChannel(route.name) : hub.disconnect((route as { name: string }).name);
      return jsonAnswer(200, { closed }, extra, false);
    }

    // POST: parse and check everything before publishing anything.
    const type = request.header('content-type');
    if (!type || !JSON_TYPE.test(type)) return error(415, 'the body must be application/json', extra, false);
    const length = Number(request.header('content-length'));
    if (length > maxBodyBytes) return error(413, `the body is larger than ${maxBodyBytes} bytes`, extra, false);
    let body: unknown;
    if (request.parsedBody !== undefined) {
      body = request.parsedBody;
    } else {
      const bytes = await request.readBody(maxBodyBytes);
      if (bytes === undefined) return error(413, `the body is larger than ${maxBodyBytes} bytes`, extra, false);
      const parsed = parseJson(bytes);
      if (!parsed.ok) return error(400, parsed.error, extra, false);
      body = parsed.value;
    }
    const checked = toMessage(body);
    if ('field' in checked) return error(400, problemText(checked), extra, false, checked.field === 'message' ? undefined : checked.field);
    if (hub.closed) return error(503, 'the hub is closed', extra, false);
    const message = checked.message;
    if (route.kind === 'channel') message.channel = route.name;
    let sent: { id: string; consumers: number };
    try {
      sent = hub.send(message, route.kind === 'client' ? { to: route.name } : {});
    } catch (err) {
      // A limit of this hub's (a longer id than its maxLastEventIdLength): the caller's input, not ours.
      if (err instanceof TypeError) return error(400, err.message.replace(/^ssehub: (message\.)?/, ''), extra, false);
      throw err;
    }
    return jsonAnswer(201, sent, extra, false);
  };
}

/** Splits a path into a route: `undefined` when unknown, `null` when a segment is badly encoded. */
function parseRoute(path: string): Route | undefined | null {
  if (path === '' || path === '/') return { kind: 'root' };
  if (path === '/broadcast') return { kind: 'broadcast' };
  const m = /^\/(channels|clients)\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(m[2]!);
  } catch {
    return null;
  }
  return { kind: m[1] === 'channels' ? 'channel' : 'client', name };
}

function stats(hub: Hub<any>, route: Route): Record<string, unknown> {
  const channels = hub.channels();
  if (route.kind === 'channel') {
    const consumers = hub.channelSize(route.name);
    return { channel: route.name, exists: consumers > 0, consumers, channels };
  }
  if (route.kind === 'client') {
    const consumers = hub.clientSize(route.name);
    return { clientId: route.name, connected: consumers > 0, consumers, channels };
  }
  return { consumers: hub.size, channels, lastEventId: hub.lastEventId ?? null };
}

function statHeaders(hub: Hub<any>, route: Route): Record<string, string> {
  // Names are percent-encoded so a comma or a non-ASCII character cannot break the header.
  let list = '';
  let truncated = false;
  for (const name of hub.channels()) {
    const item = (list ? ',' : '') + encodeURIComponent(name);
    // Clients and proxies refuse huge headers; GET has the full list.
    if (list.length + item.length > MAX_CHANNELS_HEADER) {
      truncated = true;
      break;
    }
    list += item;
  }
  const headers: Record<string, string> = { 'X-Available-Channels': list };
  if (truncated) headers['X-Available-Channels-Truncated'] = 'true';
  if (route.kind === 'channel') {
    const n = hub.channelSize(route.name);
    headers['X-Consumer-Count'] = String(n);
    headers['X-Channel-Exists'] = String(n > 0);
  } else if (route.kind === 'client') {
    const n = hub.clientSize(route.name);
    headers['X-Consumer-Count'] = String(n);
    headers['X-Client-Connected'] = String(n > 0);
  } else {
    headers['X-Consumer-Count'] = String(hub.size);
  }
  return headers;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function parseJson(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false; error: string } {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return { ok: false, error: 'the body is not valid UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, error: 'the body is not valid JSON' };
  }
}

/** Turns a parsed body into a message, and checks it by the rules `broadcast` applies. */
function toMessage(body: unknown): { message: Message } | FieldProblem {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { field: 'message', problem: 'the body must be a JSON object like {"data": ...}' };
  }
  const b = body as Record<string, unknown>;
  const message: Message = { data: b.data };
  if (b.event !== undefined) message.event = b.event as string;
  if (b.id !== undefined) {
    // A numeric id (`"id": 123`, as some publishers send it) is taken as its decimal string.
    if (typeof b.id === 'number' && !Number.isSafeInteger(b.id)) return { field: 'id', problem: 'must be a string or an integer' };
    message.id = typeof b.id === 'number' ? String(b.id) : (b.id as string);
  }
  if (b.retry !== undefined) message.retry = b.retry as number;
  return messageProblem(message) ?? { message };
}

function problemText(p: FieldProblem): string {
  return p.field === 'message' ? p.problem : `${p.field} ${p.problem}`;
}

function error(status: number, message: string, headers: Record<string, string>, head: boolean, field?: string): HttpAnswer {
  return jsonAnswer(status, field ? { error: message, field } : { error: message }, headers, head);
}
