import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

/** The shared Redis the suite talks to (`.ci/run` makes sure one runs there). */
export const REDIS_URL = process.env.SSEHUB_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Sends PING over a plain socket; resolves true on `+PONG` (no client library, nothing left open). */
export function ping(url = REDIS_URL, ms = 2000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port || 6379), hostname);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (b) => done(b.toString('latin1').startsWith('+PONG')));
  });
}

/**
 * Throws unless Redis answers PING: the suite fails, never skips, without Redis (in CI and out).
 */
export async function requireRedis(url = REDIS_URL): Promise<void> {
  if (!(await ping(url))) {
    throw new Error(
      `The Redis suite needs a redis-server at ${url} (CI=${process.env.CI ?? ''}); start one with ` +
        '`redis-server --save "" --appendonly no` or set SSEHUB_REDIS_URL.',
    );
  }
}

/** A key prefix no other test uses. */
export function uniquePrefix(name: string): string {
  return `ssehub-test-${name}-${randomBytes(4).toString('hex')}`;
}

/** Deletes the keys of one prefix (the backplane's four keys share its hash tag). */
export async function dropPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.del(...['log', 'index', 'pos', 'epoch'].map((k) => `{${prefix}}:${k}`));
  } finally {
    r.disconnect();
  }
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * A redis-server of the test's own on a spare port, which the test stops and restarts. Without
 * `persist` it keeps nothing across a restart (a reset); with it, an append-only file in a temp dir.
 */
export class OwnRedis {
  private proc: ChildProcess | undefined;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'ssehub-redis-'));

  private constructor(
    readonly port: number,
    private readonly persist: boolean,
  ) {}

  static async start(options: { persist?: boolean } = {}): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort(), options.persist ?? false);
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir];
    args.push('--appendonly', this.persist ? 'yes' : 'no');
    if (this.persist) args.push('--appendfsync', 'always');
    this.proc = spawn('redis-server', args, { stdio: 'ignore' });
    const until = Date.now() + 5000;
    while (!(await ping(this.url, 500))) {
      if (Date.now() > until) throw new Error(`redis-server did not start on port ${this.port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Freezes the server (SIGSTOP): connections stay open but nothing answers, as with a hung host. */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  /** Stops the server (SIGTERM: with `persist`, the append-only file is complete). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    this.proc = undefined;
    p.kill('SIGCONT');
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP proxy in front of a Redis server that can lose replies: `loseReplies()` makes every connection
 * open at that moment forward what the client sends (Redis runs it) but drop what Redis answers, as
 * a network that fails after the request got through. Connections made afterwards work normally.
 */
export class LossyProxy {
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket; lose: boolean }>();
  private readonly server: net.Server;
  port = 0;

  constructor(private readonly upstreamPort: number) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.upstreamPort, '127.0.0.1');
      const pair = { client, upstream, lose: false };
      this.pairs.add(pair);
      client.on('data', (b) => upstream.write(b));
      upstream.on('data', (b) => pair.lose || client.write(b));
      for (const s of [client, upstream]) {
        s.on('error', () => undefined);
        s.on('close', () => {
          this.pairs.delete(pair);
          client.destroy();
          upstream.destroy();
        });
      }
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  loseReplies(): void {
    for (const p of this.pairs) p.lose = true;
  }

  close(): Promise<void> {
    for (const p of this.pairs) p.client.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
