/**
 * The configuration, in process: defaults, flags over environment, and the one-line message of every
 * check (cli.test.ts checks that the binary prints such a line and exits 1).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, OPTIONS, parseCli, redact, type ServerConfig } from '../src/config';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): ServerConfig {
  const action = parseCli(argv, env);
  if (action.kind !== 'run') throw new Error(`expected a run, got ${action.kind}`);
  return action.config;
}

function problem(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    config(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`expected ${JSON.stringify(argv)} ${JSON.stringify(env)} to be refused`);
}

test('defaults: 127.0.0.1:8080, the hub defaults, no CORS, no Redis, no JWT, info logs', () => {
  expect(config(['--token', 't'])).toEqual({
    host: '127.0.0.1',
    port: 8080,
    tokens: ['t'],
    public: false,
    corsOrigins: undefined,
    corsCredentials: false,
    history: 1000,
    heartbeat: 15_000,
    retry: undefined,
    timeout: 5000,
    tolerance: 3,
    maxClients: Infinity,
    maxBodyBytes: 65_536,
    drain: 5000,
    redisUrl: undefined,
    redisPrefix: 'ssehub',
    redisConnectTimeout: 10_000,
    logLevel: 'info',
    jwt: undefined,
  });
});

test('every option from its environment variable, and the flag over it', () => {
  const env = {
    SSEHUB_HOST: '0.0.0.0',
    SSEHUB_PORT: '9000',
    SSEHUB_TOKEN: 'a, b',
    SSEHUB_CORS_ORIGINS: 'https://a.example, http://b.example:8080/',
    SSEHUB_CORS_CREDENTIALS: 'true',
    SSEHUB_HISTORY: '0',
    SSEHUB_HEARTBEAT: '0',
    SSEHUB_RETRY: '2500',
    SSEHUB_TIMEOUT: '2000',
    SSEHUB_TOLERANCE: '1',
    SSEHUB_MAX_CLIENTS: '500',
    SSEHUB_MAX_BODY_BYTES: '1024',
    SSEHUB_DRAIN_MS: '0',
    SSEHUB_REDIS_URL: 'rediss://user:pw@redis.internal:6380/2',
    SSEHUB_REDIS_PREFIX: 'app',
    SSEHUB_REDIS_CONNECT_TIMEOUT: '3000',
    SSEHUB_LOG_LEVEL: 'WARN',
    SSEHUB_JWT_SECRET: 'x'.repeat(32),
    SSEHUB_JWT_ALG: 'HS512',
    SSEHUB_JWT_ISSUER: 'https://auth.example',
    SSEHUB_JWT_AUDIENCE: 'ssehub',
    SSEHUB_JWT_COOKIE: 'sse',
  };
  const fromEnv = config([], env);
  expect(fromEnv).toEqual({
    host: '0.0.0.0',
    port: 9000,
    tokens: ['a', 'b'],
    public: false,
    corsOrigins: ['https://a.example', 'http://b.example:8080'],
    corsCredentials: true,
    history: 0,
    heartbeat: 0,
    retry: 2500,
    timeout: 2000,
    tolerance: 1,
    maxClients: 500,
    maxBodyBytes: 1024,
    drain: 0,
    redisUrl: 'rediss://user:pw@redis.internal:6380/2',
    redisPrefix: 'app',
    redisConnectTimeout: 3000,
    logLevel: 'warn',
    jwt: { secret: 'x'.repeat(32), publicKey: undefined, algorithm: 'HS512', issuer: 'https://auth.example', audience: 'ssehub', cookie: 'sse' },
  });
  const flags = config(['--port', '9001', '--token', 'c', '--token', 'd,e', '--history', '5', '--log-level', 'debug'], env);
  expect(flags).toMatchObject({ port: 9001, tokens: ['c', 'd', 'e'], history: 5, logLevel: 'debug', retry: 2500 });
  // Every option in the table is read: none was left at its default above.
  // (--public cannot go with a token, nor --jwt-public-key with a secret: they are read below and in the next test.)
  expect(OPTIONS.length).toBe(Object.keys(env).length + 2);
  expect(config(['--public'], { PORT: '7000' })).toMatchObject({ public: true, tokens: [], port: 7000 });
  expect(config(['--public'], { PORT: '7000', SSEHUB_PORT: '7001' }).port).toBe(7001);
  expect(config([], { SSEHUB_PUBLIC: 'yes' }).public).toBe(true);
});

test('a public key from PEM text or from a file, with its algorithm', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ssehub-config-'));
  try {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const file = path.join(dir, 'key.pem');
    writeFileSync(file, pem);
    expect(config(['--public', '--jwt-public-key', file, '--jwt-alg', 'ES256']).jwt).toEqual({
      secret: undefined,
      publicKey: pem.trim(),
      algorithm: 'ES256',
      issuer: undefined,
      audience: undefined,
      cookie: 'ssehub_authorization',
    });
    expect(config(['--public'], { SSEHUB_JWT_PUBLIC_KEY: pem }).jwt?.algorithm).toBe('RS256');
    expect(config(['--public', `--jwt-public-key=${pem}`]).jwt?.publicKey).toBe(pem.trim());
    expect(problem(['--public', '--jwt-public-key', file, '--jwt-alg', 'HS256'])).toBe(
      '--jwt-alg must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA with a public key, got "HS256"',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.each([
  [[], {}, 'a publish token is required: pass --token <token> (or set SSEHUB_TOKEN), or --public to let anyone publish'],
  [['--token', ''], {}, '--token is empty: give a token, or use --public'],
  [['--token', 'a b'], {}, '--token: a token must not contain spaces'],
  [['--public', '--token', 't'], {}, '--public and a publish token were both given: choose one'],
  [[], { SSEHUB_PUBLIC: 'maybe' }, 'SSEHUB_PUBLIC must be true or false, got "maybe"'],
  [['--public', '--port', '-1'], {}, "--port: a value starting with '-' must be given as --port=<value>"],
  [['--public', '--port=-1'], {}, '--port must be a whole number, got "-1"'],
  [['--public', '--port', 'http'], {}, '--port must be a whole number, got "http"'],
  [['--public', '--port', '65536'], {}, '--port must be between 0 and 65535, got 65536'],
  [['--public', '--tolerance', '0'], {}, '--tolerance must be between 1 and 9007199254740991, got 0'],
  [['--public', '--max-clients', '0'], {}, '--max-clients must be between 1 and 9007199254740991, got 0'],
  [['--public', '--history', '1.5'], {}, '--history must be a whole number, got "1.5"'],
  [['--public', '--host', ' '], {}, '--host must not be empty'],
  [['--public', '--nope'], {}, "Unknown option '--nope' (see ssehub --help)"],
  [['--public', 'extra'], {}, "Unexpected argument 'extra' (see ssehub --help)"],
  [['--public', '--cors', '*,https://a.example'], {}, "--cors: '*' cannot be combined with other origins"],
  [['--public', '--cors', 'https://a.example/path'], {}, '--cors: "https://a.example/path" is not an origin like https://app.example.com (scheme, host and port only)'],
  [['--public', '--cors', 'ftp://a.example'], {}, '--cors: "ftp://a.example" is not an origin like https://app.example.com (scheme, host and port only)'],
  [['--public', '--cors-credentials'], {}, '--cors-credentials needs --cors with the origins allowed'],
  [['--public', '--cors', '*', '--cors-credentials'], {}, "--cors-credentials cannot be used with --cors '*': list the origins"],
  [['--public', '--redis', 'localhost:6379'], {}, '--redis must start with redis:// or rediss://, got "localhost:6379"'],
  [['--public', '--redis', 'redis://'], {}, '--redis has no host: "redis://" (expected redis://host:6379)'],
  [['--public', '--redis', 'redis://:secret@h:6379/x'], {}, '--redis: the path must be a database number (redis://host:6379/0), got "/x"'],
  [['--public', '--redis', 'redis://:secret@h:99999'], {}, '--redis is not a URL: "redis://***@h:99999" (expected redis://host:6379)'],
  [['--public', '--redis-prefix', 'a b'], {}, '--redis-prefix must be a non-empty name without spaces or braces'],
  [['--public'], { SSEHUB_LOG_LEVEL: 'verbose' }, 'SSEHUB_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"'],
  [['--public', '--jwt-secret', 'short'], {}, '--jwt-secret must be at least 32 bytes (RFC 7518: no shorter than the hash)'],
  [['--public', '--jwt-secret', 'x'.repeat(32), '--jwt-alg', 'RS256'], {}, '--jwt-alg must be one of HS256, HS384, HS512 with a secret, got "RS256"'],
  [['--public', '--jwt-secret', 'x'.repeat(32), '--jwt-public-key=-----BEGIN PUBLIC KEY-----'], {}, '--jwt-secret and --jwt-public-key were both given: choose one'],
  [['--public', '--jwt-public-key', '/nonexistent/key.pem'], {}, '--jwt-public-key: cannot read the key file "/nonexistent/key.pem" (ENOENT)'],
  [['--public', '--jwt-public-key=-----BEGIN PRIVATE KEY-----\nabc'], {}, '--jwt-public-key must be a PEM public key (-----BEGIN PUBLIC KEY-----)'],
  [['--public', '--jwt-issuer', 'x'], {}, '--jwt-issuer needs --jwt-secret or --jwt-public-key'],
  [['--public', '--jwt-secret', 'x'.repeat(32), '--jwt-cookie', 'a;b'], {}, '--jwt-cookie "a;b" is not a valid cookie name'],
] as [string[], NodeJS.ProcessEnv, string][])('%j %j is refused: %s', (argv, env, message) => {
  expect(problem(argv, env)).toBe(message);
});

test('help and version are actions, not runs', () => {
  expect(parseCli(['--help'], {})).toEqual({ kind: 'help' });
  expect(parseCli(['--version', '--nonsense-is-not-reached'].slice(0, 1), {})).toEqual({ kind: 'version' });
});

test('redact hides a Redis password', () => {
  expect(redact('redis://user:pw@h:6379/0')).toBe('redis://user:***@h:6379/0');
  expect(redact('redis://h:6379')).toBe('redis://h:6379');
  expect(redact('not a url //user:pw@h')).toBe('not a url //***@h');
});

test("the server's README lists every flag and variable with its default", () => {
  const readme = readFileSync(path.resolve(__dirname, '../README.md'), 'utf8');
  for (const o of OPTIONS) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`--${o.flag}`));
    expect([o.flag, row]).toEqual([o.flag, expect.any(String)]);
    for (const env of o.env) expect([o.flag, row!.includes(`\`${env}\``)]).toEqual([o.flag, true]);
    expect([o.flag, row!.includes(o.defaultText)]).toEqual([o.flag, true]);
  }
});
