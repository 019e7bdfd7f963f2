/**
 * The server's configuration: every option, its flag, its environment variables and its default in
 * one table ({@link OPTIONS}), which the parser, `--help` and the README test all read. Flags win over
 * environment variables, which win over defaults. Every problem is a {@link ConfigError} whose message
 * is one line a person can act on.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** A configuration problem: its message is the one line the CLI prints before it exits 1. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The values `--log-level` takes, most to least severe; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One of {@link LOG_LEVELS}. Default: `'info'`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Algorithms accepted for a shared secret and for a public key. */
export const SECRET_ALGS = ['HS256', 'HS384', 'HS512'] as const;
/** Algorithms accepted with a public key (`--jwt-public-key`). */
export const PUBLIC_KEY_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** How subscribers' signed tokens are checked (see jwt.ts). Present only when a key is configured. */
export interface JwtConfig {
  /** HS256/384/512 shared secret (at least 32 bytes), or undefined when a public key is used. */
  secret?: string;
  /** A PEM public key (SPKI: `-----BEGIN PUBLIC KEY-----`), or undefined when a secret is used. */
  publicKey?: string;
  /** The one algorithm tokens must be signed with. */
  algorithm: string;
  /** Required `iss` claim, if any. */
  issuer?: string;
  /** Required `aud` claim, if any. */
  audience?: string;
  /** The cookie a browser's token travels in. */
  cookie: string;
}

/** The typed configuration of one ssehub server. */
export interface ServerConfig {
  /** Address to listen on. Default: `'127.0.0.1'`. */
  host: string;
  /** Port to listen on (0: any free port). Default: 8080. */
  port: number;
  /** Bearer tokens the publish API accepts; empty only with `public`. */
  tokens: string[];
  /** No access check on the publish API (an explicit choice). Default: `false`. */
  public: boolean;
  /** Origins allowed to subscribe and publish from a browser: a list, `'*'`, or none (no CORS). Default: none. */
  corsOrigins: string[] | '*' | undefined;
  /** Send `Access-Control-Allow-Credentials: true` (cookies on cross-origin EventSource). Default: `false`. */
  corsCredentials: boolean;
  /** Events kept for replay after a reconnect (0: none). Default: 1000. */
  history: number;
  /** Milliseconds between heartbeat comments (0: off). Default: 15000. */
  heartbeat: number;
  /** `retry:` sent first on every stream (ms), or undefined for none. Default: undefined. */
  retry: number | undefined;
  /** Milliseconds a subscriber may stay unable to take writes before that counts as one failure. Default: 5000. */
  timeout: number;
  /** Failures in a row (see `timeout`) that disconnect a subscriber. Default: 3. */
  tolerance: number;
  /** Open streams; past it new ones are refused with a retry hint. Default: `Infinity`. */
  maxClients: number;
  /** Largest publish body in bytes (413 past it). Default: 65536. */
  maxBodyBytes: number;
  /** Milliseconds over which SIGTERM/SIGINT end the open streams. Default: 5000. */
  drain: number;
  /** Redis to share the hub through (`redis://` or `rediss://`), or undefined for this process only. Default: undefined. */
  redisUrl: string | undefined;
  /** Redis key prefix: servers with the same Redis and prefix form one hub. Default: `'ssehub'`. */
  redisPrefix: string;
  /** Milliseconds to wait for Redis at start-up. Default: 10000. */
  redisConnectTimeout: number;
  /** Least severe level logged. Default: `'info'`. */
  logLevel: LogLevel;
  /** How subscribers' tokens are checked, or undefined when subscriptions are open. Default: undefined. */
  jwt: JwtConfig | undefined;
}

type Kind = 'string' | 'integer' | 'boolean' | 'list';

/** One option: how it is given and what it defaults to. */
export interface OptionSpec {
  /** The long flag without dashes. */
  flag: string;
  /** Environment variables read, first set wins. */
  env: readonly string[];
  /** How the value is parsed: text, an integer, a flag, or a list (repeated or comma-separated). */
  kind: Kind;
  /** The value (or `<value>` placeholder) `--help` shows. */
  value?: string;
  /** The default, as the README and `--help` show it. */
  defaultText: string;
  /** The one-line description `--help` and the README show. */
  help: string;
}

/** Every option. Order is the order of `--help` and of the README table. */
export const OPTIONS: readonly OptionSpec[] = [
  { flag: 'host', env: ['SSEHUB_HOST'], kind: 'string', value: '<host>', defaultText: '127.0.0.1', help: 'address to listen on (0.0.0.0 or :: for every interface)' },
  { flag: 'port', env: ['SSEHUB_PORT', 'PORT'], kind: 'integer', value: '<port>', defaultText: '8080', help: 'port to listen on (0: any free port)' },
  {
    flag: 'token',
    env: ['SSEHUB_TOKEN'],
    kind: 'list',
    value: '<token>',
    defaultText: 'none (required unless --public)',
    help: 'publish token, sent as `Authorization: Bearer <token>` (or `Auth-Token: <token>`); repeat the flag or separate with commas for several',
  },
  { flag: 'public', env: ['SSEHUB_PUBLIC'], kind: 'boolean', defaultText: 'false', help: 'serve the publish API (POST, DELETE, HEAD) with no token: anyone who reaches the port can publish' },
  {
    flag: 'cors',
    env: ['SSEHUB_CORS_ORIGINS'],
    kind: 'list',
    value: '<origin>',
    defaultText: 'none (no CORS headers)',
    help: "origins allowed from a browser (`https://app.example.com`), repeated or comma-separated, or '*' for any",
  },
  { flag: 'cors-credentials', env: ['SSEHUB_CORS_CREDENTIALS'], kind: 'boolean', defaultText: 'false', help: 'allow cookies cross-origin (`new EventSource(url, { withCredentials: true })`); not with --cors *' },
  { flag: 'history', env: ['SSEHUB_HISTORY'], kind: 'integer', value: '<events>', defaultText: '1000', help: 'events kept for replay after a reconnect (0: none)' },
  { flag: 'heartbeat', env: ['SSEHUB_HEARTBEAT'], kind: 'integer', value: '<ms>', defaultText: '15000', help: 'ms between heartbeat comments (0: off)' },
  { flag: 'retry', env: ['SSEHUB_RETRY'], kind: 'integer', value: '<ms>', defaultText: 'not sent', help: '`retry:` sent first on every stream: how long clients wait before reconnecting' },
  { flag: 'timeout', env: ['SSEHUB_TIMEOUT'], kind: 'integer', value: '<ms>', defaultText: '5000', help: 'ms a subscriber may stay unable to take writes before that counts as one failure' },
  { flag: 'tolerance', env: ['SSEHUB_TOLERANCE'], kind: 'integer', value: '<n>', defaultText: '3', help: 'failures in a row (see --timeout) that disconnect a subscriber' },
  { flag: 'max-clients', env: ['SSEHUB_MAX_CLIENTS'], kind: 'integer', value: '<n>', defaultText: 'unlimited', help: 'open streams; past it new ones are told to come back later' },
  { flag: 'max-body-bytes', env: ['SSEHUB_MAX_BODY_BYTES'], kind: 'integer', value: '<bytes>', defaultText: '65536', help: 'largest publish body (413 past it)' },
  { flag: 'drain', env: ['SSEHUB_DRAIN_MS'], kind: 'integer', value: '<ms>', defaultText: '5000', help: 'on SIGTERM/SIGINT, ms over which open streams are ended (clients reconnect and resume elsewhere)' },
  { flag: 'redis', env: ['SSEHUB_REDIS_URL'], kind: 'string', value: '<url>', defaultText: 'none (this process only)', help: 'redis:// or rediss:// URL: every ssehub on the same Redis and prefix acts as one hub' },
  {
    flag: 'redis-connect-timeout',
    env: ['SSEHUB_REDIS_CONNECT_TIMEOUT'],
    kind: 'integer',
    value: '<ms>',
    defaultText: '10000',
    help: 'at start-up, ms to wait for Redis before giving up (exit 1)',
  },
  { flag: 'redis-prefix', env: ['SSEHUB_REDIS_PREFIX'], kind: 'string', value: '<prefix>', defaultText: 'ssehub', help: 'Redis key prefix: servers with the same prefix form one hub' },
  { flag: 'log-level', env: ['SSEHUB_LOG_LEVEL'], kind: 'string', value: '<level>', defaultText: 'info', help: `one of ${LOG_LEVELS.join(', ')}` },
  {
    flag: 'jwt-secret',
    env: ['SSEHUB_JWT_SECRET'],
    kind: 'string',
    value: '<secret>',
    defaultText: 'none (subscriptions open)',
    help: 'HMAC secret (at least 32 bytes) that subscribers\' tokens are signed with; turns subscriber authorization on',
  },
  {
    flag: 'jwt-public-key',
    env: ['SSEHUB_JWT_PUBLIC_KEY'],
    kind: 'string',
    value: '<file-or-pem>',
    defaultText: 'none',
    help: 'public key that subscribers\' tokens are verified with, instead of --jwt-secret: a file holding an SPKI PEM, or the PEM text itself (in the variable, or as --jwt-public-key=<pem>)',
  },
  {
    flag: 'jwt-alg',
    env: ['SSEHUB_JWT_ALG'],
    kind: 'string',
    value: '<alg>',
    defaultText: 'HS256 with a secret, RS256 with a public key',
    help: `the one algorithm accepted: ${SECRET_ALGS.join(', ')} with a secret; ${PUBLIC_KEY_ALGS.join(', ')} with a public key`,
  },
  { flag: 'jwt-issuer', env: ['SSEHUB_JWT_ISSUER'], kind: 'string', value: '<iss>', defaultText: 'not checked', help: 'required `iss` claim' },
  { flag: 'jwt-audience', env: ['SSEHUB_JWT_AUDIENCE'], kind: 'string', value: '<aud>', defaultText: 'not checked', help: 'required `aud` claim' },
  { flag: 'jwt-cookie', env: ['SSEHUB_JWT_COOKIE'], kind: 'string', value: '<name>', defaultText: 'ssehub_authorization', help: 'cookie a browser\'s token travels in' },
];

/** What the command line asked for besides running: help or version. */
export type CliAction = { kind: 'run'; config: ServerConfig } | { kind: 'help' } | { kind: 'version' };

/**
 * Reads the command line and the environment.
 * @throws ConfigError with a one-line message for anything it cannot accept.
 */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliAction {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { help: { type: 'boolean' }, version: { type: 'boolean' } };
  for (const o of OPTIONS) options[o.flag] = { type: o.kind === 'boolean' ? 'boolean' : 'string', multiple: o.kind === 'list' };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError(argumentProblem(err));
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  return { kind: 'run', config: resolveConfig(values as Record<string, string | boolean | string[] | undefined>, env) };
}

/** parseArgs' messages, cut to their first sentence (the rest explains `--` positionals). */
function argumentProblem(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).replace(/^\w*Error \[\w+\]: /, '');
  const ambiguous = /^Option '(--[\w-]+)'.* argument is ambiguous/.exec(message);
  if (ambiguous) return `${ambiguous[1]}: a value starting with '-' must be given as ${ambiguous[1]}=<value>`;
  const first = message.split(/\.\s/)[0]!.replace(/\.$/, '');
  return `${first} (see ssehub --help)`;
}

/** A raw value and where it came from, for messages that name the source. */
interface Raw {
  value: string | boolean | string[];
  source: string;
}

function raw(values: Record<string, string | boolean | string[] | undefined>, env: NodeJS.ProcessEnv, o: OptionSpec): Raw | undefined {
  const v = values[o.flag];
  if (v !== undefined) return { value: v, source: `--${o.flag}` };
  for (const name of o.env) {
    const e = env[name];
    if (e !== undefined && e !== '') return { value: e, source: name };
  }
  return undefined;
}

/** Builds and checks the configuration from parsed flags and the environment. */
export function resolveConfig(values: Record<string, string | boolean | string[] | undefined>, env: NodeJS.ProcessEnv = {}): ServerConfig {
  const spec = (flag: string) => OPTIONS.find((o) => o.flag === flag)!;
  const get = (flag: string) => raw(values, env, spec(flag));
  const str = (flag: string): string | undefined => {
    const r = get(flag);
    return r === undefined ? undefined : String(r.value);
  };
  const int = (flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const r = get(flag);
    if (r === undefined) return undefined;
    const text = String(r.value).trim();
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new ConfigError(`${r.source} must be a whole number, got "${text}"`);
    const n = Number(text);
    if (n < min || n > max) throw new ConfigError(`${r.source} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
  const bool = (flag: string): boolean => {
    const r = get(flag);
    if (r === undefined) return false;
    if (typeof r.value === 'boolean') return r.value;
    const text = String(r.value).trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(text)) return true;
    if (['0', 'false', 'no', 'off'].includes(text)) return false;
    throw new ConfigError(`${r.source} must be true or false, got "${r.value}"`);
  };
  const list = (flag: string): { items: string[]; source: string } | undefined => {
    const r = get(flag);
    if (r === undefined) return undefined;
    const parts = (Array.isArray(r.value) ? r.value : [String(r.value)]).flatMap((v) => String(v).split(','));
    return { items: parts.map((p) => p.trim()).filter((p) => p !== ''), source: r.source };
  };

  const host = (str('host') ?? '127.0.0.1').trim();
  if (host === '') throw new ConfigError('--host must not be empty');
  const port = int('port', 0, 65535) ?? 8080;

  const tokenList = list('token');
  const tokens = tokenList?.items ?? [];
  if (tokenList && tokens.length === 0) throw new ConfigError(`${tokenList.source} is empty: give a token, or use --public`);
  for (const t of tokens) {
    if (/\s/.test(t)) throw new ConfigError(`${tokenList!.source}: a token must not contain spaces`);
  }
  const isPublic = bool('public');
  if (isPublic && tokens.length) throw new ConfigError('--public and a publish token were both given: choose one');
  if (!isPublic && tokens.length === 0) {
    throw new ConfigError('a publish token is required: pass --token <token> (or set SSEHUB_TOKEN), or --public to let anyone publish');
  }

  const corsList = list('cors');
  let corsOrigins: string[] | '*' | undefined;
  if (corsList) {
    if (corsList.items.length === 0) throw new ConfigError(`${corsList.source} is empty`);
    if (corsList.items.includes('*')) {
      if (corsList.items.length > 1) throw new ConfigError(`${corsList.source}: '*' cannot be combined with other origins`);
      corsOrigins = '*';
    } else {
      corsOrigins = corsList.items.map((o) => checkOrigin(o, corsList.source));
    }
  }
  const corsCredentials = bool('cors-credentials');
  if (corsCredentials && corsOrigins === '*') throw new ConfigError("--cors-credentials cannot be used with --cors '*': list the origins");
  if (corsCredentials && corsOrigins === undefined) throw new ConfigError('--cors-credentials needs --cors with the origins allowed');

  const retry = int('retry', 0);
  const maxClients = int('max-clients', 1) ?? Infinity;

  const redisUrl = str('redis')?.trim();
  if (redisUrl !== undefined) checkRedisUrl(redisUrl, get('redis')!.source);
  const redisPrefix = str('redis-prefix') ?? 'ssehub';
  if (redisPrefix === '' || /[\s{}]/.test(redisPrefix)) throw new ConfigError('--redis-prefix must be a non-empty name without spaces or braces');

  const level = (str('log-level') ?? 'info').trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`${get('log-level')!.source} must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  }

  return {
    host,
    port,
    tokens,
    public: isPublic,
    corsOrigins,
    corsCredentials,
    history: int('history', 0) ?? 1000,
    heartbeat: int('heartbeat', 0) ?? 15_000,
    retry,
    timeout: int('timeout', 0) ?? 5000,
    tolerance: int('tolerance', 1) ?? 3,
    maxClients,
    maxBodyBytes: int('max-body-bytes', 1) ?? 64 * 1024,
    drain: int('drain', 0) ?? 5000,
    redisUrl,
    redisPrefix,
    redisConnectTimeout: int('redis-connect-timeout', 1) ?? 10_000,
    logLevel: level as LogLevel,
    jwt: jwtConfig(get, str),
  };
}

function jwtConfig(get: (flag: string) => Raw | undefined, str: (flag: string) => string | undefined): JwtConfig | undefined {
  const secret = str('jwt-secret');
  const keyRaw = get('jwt-public-key');
  const extras = ['jwt-alg', 'jwt-issuer', 'jwt-audience', 'jwt-cookie'].map(get).filter((r): r is Raw => r !== undefined);
  if (secret === undefined && keyRaw === undefined) {
    if (extras.length) throw new ConfigError(`${extras[0]!.source} needs --jwt-secret or --jwt-public-key`);
    return undefined;
  }
  if (secret !== undefined && keyRaw !== undefined) throw new ConfigError('--jwt-secret and --jwt-public-key were both given: choose one');
  let publicKey: string | undefined;
  if (keyRaw !== undefined) {
    const text = String(keyRaw.value).trim();
    if (text.startsWith('-----BEGIN')) publicKey = text;
    else {
      try {
        publicKey = readFileSync(text, 'utf8').trim();
      } catch (err) {
        throw new ConfigError(`${keyRaw.source}: cannot read the key file "${text}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
    }
    if (!publicKey.startsWith('-----BEGIN PUBLIC KEY-----')) {
      throw new ConfigError(`${keyRaw.source} must be a PEM public key (-----BEGIN PUBLIC KEY-----)`);
    }
  }
  if (secret !== undefined && Buffer.byteLength(secret, 'utf8') < 32) {
    throw new ConfigError('--jwt-secret must be at least 32 bytes (RFC 7518: no shorter than the hash)');
  }
  const allowed: readonly string[] = secret !== undefined ? SECRET_ALGS : PUBLIC_KEY_ALGS;
  const algorithm = str('jwt-alg')?.trim() ?? allowed[0]!;
  if (!allowed.includes(algorithm)) {
    throw new ConfigError(`--jwt-alg must be one of ${allowed.join(', ')} with ${secret !== undefined ? 'a secret' : 'a public key'}, got "${algorithm}"`);
  }
  const cookie = str('jwt-cookie')?.trim() ?? 'ssehub_authorization';
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookie)) throw new ConfigError(`--jwt-cookie "${cookie}" is not a valid cookie name`);
  return { secret, publicKey, algorithm, issuer: str('jwt-issuer'), audience: str('jwt-audience'), cookie };
}

/** An origin exactly as browsers send it: scheme, host and port, nothing else. */
function checkOrigin(origin: string, source: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new ConfigError(`${source}: "${origin}" is not an origin like https://app.example.com`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== origin.replace(/\/$/, '')) {
    throw new ConfigError(`${source}: "${origin}" is not an origin like https://app.example.com (scheme, host and port only)`);
  }
  return url.origin;
}

/** Accepts redis:// and rediss:// URLs with a host; says what is wrong otherwise. */
function checkRedisUrl(value: string, source: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${source} is not a URL: "${redact(value)}" (expected redis://host:6379)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`${source} must start with redis:// or rediss://, got "${redact(value)}"`);
  }
  if (url.hostname === '') throw new ConfigError(`${source} has no host: "${redact(value)}" (expected redis://host:6379)`);
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d+$/.test(url.pathname)) {
    throw new ConfigError(`${source}: the path must be a database number (redis://host:6379/0), got "${url.pathname}"`);
  }
}

/** A URL with its password hidden, for messages and logs. */
export function redact(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.href;
  } catch {
    // Not a URL: hide anything between "//" and "@" that could be credentials.
    return value.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** The `--help` text, from {@link OPTIONS}. */
export function helpText(version: string): string {
  const rows = OPTIONS.map((o) => {
    const flag = `--${o.flag}${o.value ? ' ' + o.value : ''}`;
    return `  ${flag.padEnd(28)} ${o.help}\n  ${''.padEnd(28)} env: ${o.env.join(', ')}; default: ${o.defaultText}`;
  });
  return [
    `ssehub ${version}: a standalone Server-Sent Events hub`,
    '',
    'Usage: ssehub [options]          (from the repository: npx -y pnpm@9.15.9 --filter @ssehub/server start [options])',
    '',
    'Flags win over environment variables. Options:',
    ...rows,
    '  --help                       this text',
    '  --version                    the version',
    '',
    'Routes: GET /events?channel=<name> (stream), /api/... (publish API), and railsmechanic/eventsource\'s',
    'GET|POST|DELETE|HEAD /<channel>, with /all for every subscriber. See the README of @ssehub/server.',
  ].join('\n');
}
