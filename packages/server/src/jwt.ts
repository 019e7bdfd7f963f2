/**
 * Subscriber authorization without code: a browser's EventSource cannot send
 * headers, so a subscriber presents a signed token (a JWT) in a cookie or an `authorization` query
 * parameter (or, from non-browser clients, an `Authorization: Bearer` header). Its claims decide the
 * channels the stream may join and the client id it gets, so private channels and `broadcastTo`
 * follow the token, never a query parameter anyone can forge. Verification is jose's.
 */
import type { IncomingMessage } from 'node:http';
import { bearerToken, type Denial, type StreamGrant } from '@ssehub/core/adapter';
import type { JwtConfig } from './config';
import { ConfigError } from './config';

/** The claim that carries ssehub's grant. */
export const CLAIM = 'ssehub';

/** What a token allows, once verified. */
export interface Grant extends StreamGrant {
  clientId?: string;
  /** Channels granted, or `'*'` for any. */
  channels: string[] | '*';
  /** When the token expires (ms since the epoch), if it does. */
  expiresAt?: number;
}

/** Checks subscribers' tokens; created once at start-up (the key is imported then). */
export interface SubscriberAuth {
  /**
   * Verifies the request's token and checks that it grants every requested channel.
   * @returns the grant, or a denial: 401 for a missing or unusable token, 403 for a channel it does not grant.
   */
  authorize(req: IncomingMessage, requested: readonly string[]): Promise<Grant | Denial>;
}

type Jose = typeof import('jose');

/**
 * Imports the key and returns the checker.
 * @throws ConfigError when the key cannot be used with the algorithm.
 */
export async function createSubscriberAuth(config: JwtConfig): Promise<SubscriberAuth> {
  // jose is an ES module; a dynamic import loads it from this CommonJS package on every Node 20.
  const jose: Jose = await import('jose');
  let key: Uint8Array | CryptoKey;
  if (config.secret !== undefined) key = new TextEncoder().encode(config.secret);
  else {
    try {
      key = await jose.importSPKI(config.publicKey!, config.algorithm);
    } catch (err) {
      throw new ConfigError(`--jwt-public-key cannot be used with ${config.algorithm}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const options = { algorithms: [config.algorithm], issuer: config.issuer, audience: config.audience };

  return {
    async authorize(req, requested) {
      const token = findToken(req, config.cookie);
      if (token === undefined) return { status: 401, message: 'a token is required (cookie, ?authorization= or Authorization: Bearer)' };
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jose.jwtVerify(token, key, options));
      } catch (err) {
        return { status: 401, message: verifyProblem(jose, err) };
      }
      const grant = grantOf(payload);
      if (typeof grant === 'string') return { status: 401, message: grant };
      if (grant.channels !== '*') {
        const allowed = new Set(grant.channels);
        const denied = requested.find((ch) => !allowed.has(ch));
        if (denied !== undefined) return { status: 403, message: `the token does not grant channel ${JSON.stringify(denied)}` };
      }
      return grant;
    },
  };
}

/** The token: `Authorization: Bearer` first, then `?authorization=`, then the cookie. */
export function findToken(req: IncomingMessage, cookieName: string): string | undefined {
  const header = bearerToken(typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined);
  if (header) return header;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q !== -1) {
    const param = new URLSearchParams(url.slice(q + 1)).get('authorization');
    if (param) return param.replace(/^Bearer\s+/i, '');
  }
  return readCookie(req.headers.cookie, cookieName);
}

/** One cookie's value from a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value) || undefined;
    } catch {
      return value || undefined;
    }
  }
  return undefined;
}

/**
 * The grant in a verified payload: `ssehub.channels` (a list of names, `"*"` in it for any channel;
 * none: global broadcasts and private messages only) and the client id (`ssehub.clientId`, else `sub`).
 * @returns the grant, or what is wrong with the claims.
 */
export function grantOf(payload: Record<string, unknown>): Grant | string {
  const claim = payload[CLAIM];
  if (claim !== undefined && (claim === null || typeof claim !== 'object' || Array.isArray(claim))) return `the ${CLAIM} claim must be an object`;
  const c = (claim ?? {}) as Record<string, unknown>;
  let channels: string[] | '*' = [];
  if (c.channels !== undefined) {
    if (!Array.isArray(c.channels) || !c.channels.every((ch) => typeof ch === 'string' && ch !== '')) {
      return `the ${CLAIM}.channels claim must be a list of channel names`;
    }
    channels = c.channels.includes('*') ? '*' : (c.channels as string[]);
  }
  const clientId = c.clientId !== undefined ? c.clientId : payload.sub;
  if (clientId !== undefined && (typeof clientId !== 'string' || clientId === '')) return `the client id (${CLAIM}.clientId or sub) must be a non-empty string`;
  const grant: Grant = { channels, clientId: clientId as string | undefined };
  if (typeof payload.exp === 'number') grant.expiresAt = payload.exp * 1000;
  return grant;
}

/** A short, safe reason for a token jose refused (never the token itself). */
function verifyProblem(jose: Jose, err: unknown): string {
  const { errors } = jose;
  if (err instanceof errors.JWTExpired) return 'the token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `the token's ${err.claim} claim is not accepted`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm this server does not accept';
  return 'the token is not a valid JWT';
}
