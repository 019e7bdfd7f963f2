/**
 * Access control shared by the stream and the publish handler: the constant-time token check,
 * CORS with an origin allowlist, the one rule for what counts as a refusal, and content negotiation
 * for gzip. Runtime-neutral: it reads headers through a {@link HeaderReader}.
 */
import { checkCount } from '../options';
import { textAnswer, type HeaderReader, type HttpAnswer } from './http';

/** Refuses a request: 401 (no or unusable credentials) or 403 (credentials that are not enough). */
export interface Denial {
  /** `401` when no credentials came (a bearer challenge goes with it), `403` when they are wrong. */
  status: 401 | 403;
  /** Sent as the plain-text (stream) or JSON (publish) body. Default: a generic reason. */
  message?: string;
}

/**
 * The one rule for an `authorize` hook's verdict, for streams and the publish API alike: `true`
 * allows; an object with a `status` refuses, with 401 when it says 401 and 403 otherwise (a refusal
 * never turns into a grant); anything else that is not an object (`false`, `undefined` from a hook
 * that forgot to return) refuses with 403. An object without `status` is a grant, for hooks that
 * grant one (streams); `grants: false` refuses it too (the publish API).
 * @returns `'allow'`, `'grant'` or the denial with its message filled in.
 */
export function verdictOf(verdict: unknown, grants: boolean): 'allow' | 'grant' | Required<Denial> {
  if (verdict === true) return 'allow';
  if (verdict !== null && typeof verdict === 'object') {
    if ('status' in verdict) {
      const status = (verdict as Denial).status === 401 ? 401 : 403;
      const message = (verdict as Denial).message;
      return { status, message: typeof message === 'string' ? message : reasonOf(status) };
    }
    if (grants) return 'grant';
  }
  return { status: 403, message: reasonOf(403) };
}

function reasonOf(status: 401 | 403): string {
  return status === 401 ? 'authentication required' : 'forbidden';
}

/** CORS for cross-origin `EventSource` and publish calls. */
export interface CorsOptions {
  /**
   * The origins allowed, exactly as browsers send them (`'https://app.example.com'`), or a predicate,
   * or `'*'` for any origin (only without `credentials`). Required: there is no default allowlist.
   */
  origins: readonly string[] | '*' | ((origin: string) => boolean);
  /**
   * Sends `Access-Control-Allow-Credentials: true`, so `new EventSource(url, { withCredentials: true })`
   * may send cookies. Refused together with `origins: '*'`. Default: false.
   */
  credentials?: boolean;
  /** Request headers a preflight allows besides the built-in ones (see each handler). Default: none. */
  allowHeaders?: readonly string[];
  /** Seconds a browser may cache a preflight answer (`Access-Control-Max-Age`). Default: 600. */
  maxAge?: number;
}

/** Throws a TypeError for a CORS configuration that would be unsafe or cannot work. */
export function checkCors(cors: CorsOptions | undefined): void {
  if (cors === undefined) return;
  const { origins } = cors;
  if (origins !== '*' && typeof origins !== 'function' && !Array.isArray(origins)) {
    throw new TypeError("ssehub: cors.origins must be an array of origins, a predicate or '*'");
  }
  // Browsers refuse `*` with credentials; echoing every origin instead would hand any site the user's cookies.
  if (origins === '*' && cors.credentials) throw new TypeError("ssehub: cors.origins '*' cannot be used with credentials");
  if (cors.maxAge !== undefined) checkCount('cors.maxAge', cors.maxAge);
}

/**
 * The CORS response headers for a request from `origin`.
 * @returns the headers (none when the request has no Origin), or `undefined` when the origin is not allowed.
 */
export function corsHeaders(cors: CorsOptions, origin: string | undefined): Record<string, string> | undefined {
  if (cors.origins === '*') return { 'Access-Control-Allow-Origin': '*' };
  // The answer depends on Origin, so caches must key on it even when it is absent.
  if (origin === undefined) return { Vary: 'Origin' };
  const allowed = typeof cors.origins === 'function' ? cors.origins(origin) : cors.origins.includes(origin);
  if (!allowed) return undefined;
  const headers: Record<string, string> = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
  if (cors.credentials) headers['Access-Control-Allow-Credentials'] = 'true';
  return headers;
}

/**
 * Answers a CORS preflight (OPTIONS): 204 with the allowed methods and headers, or 403 when the
 * origin is not on the allowlist.
 */
export function preflight(
  cors: CorsOptions,
  header: HeaderReader,
  methods: readonly string[],
  headers: readonly string[],
): HttpAnswer {
  const allowed = corsHeaders(cors, header('origin'));
  if (!allowed || header('origin') === undefined) return textAnswer(403, 'ssehub: origin not allowed\n');
  return {
    status: 204,
    headers: {
      ...allowed,
      'Access-Control-Allow-Methods': methods.join(', '),
      'Access-Control-Allow-Headers': [...headers, ...(cors.allowHeaders ?? [])].join(', '),
      'Access-Control-Max-Age': String(cors.maxAge ?? 600),
    },
    body: '',
  };
}

const utf8 = new TextEncoder();

/**
 * Compares two secrets in time that depends only on their lengths, never on where they differ.
 * Pure JS so core runs on any runtime.
 */
export function safeEqual(a: string, b: string): boolean {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined when there is none. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return m ? m[1] : undefined;
}

/**
 * Checks a bearer token against the accepted ones: 401 when the request has none, 403 when it is wrong.
 * @returns undefined when the token is accepted, else the denial.
 */
export function checkToken(tokens: readonly string[], authorization: string | undefined): Denial | undefined {
  const token = bearerToken(authorization);
  if (token === undefined) return { status: 401, message: 'a bearer token is required' };
  let ok = false;
  // Every token is compared, so timing does not tell which one (or whether any) matched.
  for (const t of tokens) ok = safeEqual(token, t) || ok;
  return ok ? undefined : { status: 403, message: 'the bearer token is not accepted' };
}

/** True when an Accept-Encoding header accepts gzip (`gzip` or `*`, with a non-zero q). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  let gzip: boolean | undefined;
  let star = false;
  for (const part of acceptEncoding.split(',')) {
    const [token = '', ...params] = part.toLowerCase().split(';');
    // Whitespace may sit on either side of each ';' (RFC 9110: weight = OWS ";" OWS "q=" qvalue).
    const name = token.trim();
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const accepted = q === undefined || Number(q.slice(2)) > 0;
    if (name === 'gzip' || name === 'x-gzip') gzip = accepted;
    else if (name === '*') star = accepted;
  }
  return gzip ?? star;
}

/** Checks a limit option when it is given: a positive integer or Infinity. */
export function checkLimit(name: string, value: number | undefined): void {
  if (value !== undefined) checkCount(name, value, 1, true);
}
