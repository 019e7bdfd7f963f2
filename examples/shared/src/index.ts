/**
 * What the Express, Koa, Hono and Fastify examples share: the demo's hub and its typed events, the logic behind
 * the demo's two POST routes, and the page. Each example only wires these into its framework.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { createHub, type Hub, type HubHealth, type HubOptions, type HubStats } from '@ssehub/core';

/** The demo's events and their payloads: the hub checks every broadcast against this at compile time. */
export type DemoEvents = {
  /** A message typed into the page, or sent by the server. */
  chat: { text: string; from: string; channel?: string };
  /** A message to one client id (`hub.broadcastTo`). */
  private: { text: string; from: string; to: string };
  /** The server's clock, so the feed moves on its own. */
  tick: { n: number; at: string };
  /** Who is connected: sent on every connect and disconnect. */
  clients: { count: number; ids: string[] };
};

/** Options of {@link Demo}. */
export interface DemoOptions {
  /** Milliseconds between `tick` events; 0 turns the ticker off. Default: 0. */
  tickMs?: number;
  /** Options of the hub. Default: `{ history: 500, heartbeat: 15000, retry: 1000 }`. */
  hub?: HubOptions;
  /** Bearer token of the HTTP publish API the examples mount at /api. Default: a random one. */
  token?: string;
}

/** An answer of a demo route: the framework sends `body` as JSON with `status`. */
export interface DemoReply {
  status: 200 | 400 | 404;
  body: Record<string, unknown>;
}

/** The answer of GET /demo/stats: what the hub says of itself, and when (ms since the epoch). */
export interface DemoStats {
  at: number;
  stats: HubStats;
  health: HubHealth;
}

/** The channels the page offers. */
export const DEMO_CHANNELS = ['room-1', 'room-2'] as const;

const NAME = /^[\w.-]{1,40}$/;

/** The demo's state: one typed hub, its ticker, and the actions behind the routes. */
export class Demo {
  readonly hub: Hub<DemoEvents>;
  /** Bearer token of the publish API at /api (`publish(hub, { token })` from the adapter). */
  readonly token: string;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private ticks = 0;
  private censusQueued = false;

  constructor(options: DemoOptions = {}) {
    this.hub = createHub<DemoEvents>(options.hub ?? { history: 500, heartbeat: 15_000, retry: 1000 });
    this.token = options.token || randomBytes(12).toString('hex');
    this.hub.on('connect', this.announce);
    this.hub.on('disconnect', this.announce);
    const tickMs = options.tickMs ?? 0;
    if (tickMs > 0) {
      this.ticker = setInterval(() => {
        this.hub.broadcast({ event: 'tick', data: { n: ++this.ticks, at: new Date().toISOString() } });
      }, tickMs);
      this.ticker.unref();
    }
  }

  /** Connected clients and their distinct client ids. */
  census(): DemoEvents['clients'] {
    const ids = new Set<string>();
    for (const c of this.hub.clients()) if (c.clientId !== undefined) ids.add(c.clientId);
    return { count: this.hub.size, ids: [...ids].sort() };
  }

  // Connects and disconnects in one turn (a channel switch is both) become one `clients` event.
  private readonly announce = (): void => {
    if (this.censusQueued) return;
    this.censusQueued = true;
    queueMicrotask(this.flushCensus);
  };

  /** Sends the `clients` event now if one is waiting. */
  private readonly flushCensus = (): void => {
    if (!this.censusQueued) return;
    this.censusQueued = false;
    if (!this.hub.closed) this.hub.broadcast({ event: 'clients', data: this.census() });
  };

  /**
   * POST /demo/publish `{ text, from?, channel?, to? }`: a `chat` event to everyone (or one channel's
   * subscribers), or with `to` a `private` event to that client id only.
   */
  publish(input: unknown): DemoReply {
    const body = (input ?? {}) as Record<string, unknown>;
    const text = typeof body.text === 'string' ? body.text.trim() : '';
    if (!text || text.length > 500) return bad('text must be 1 to 500 characters');
    const from = optionalName(body.from) ?? 'anonymous';
    const channel = optionalName(body.channel);
    const to = optionalName(body.to);
    if (body.channel !== undefined && body.channel !== '' && channel === undefined) return bad('bad channel');
    if (body.to !== undefined && body.to !== '' && to === undefined) return bad('bad client id in "to"');
    if (to !== undefined) {
      const reached = this.hub.broadcastTo(to, { event: 'private', data: { text, from, to } });
      return { status: 200, body: { reached } };
    }
    const id = this.hub.broadcast({ event: 'chat', data: channel ? { text, from, channel } : { text, from }, channel });
    return { status: 200, body: { id } };
  }

  /**
   * POST /demo/drop `{ id, missed? }`: the server ends every stream of client id `id`, then
   * broadcasts `missed` chat events (default 3, at most 20) while that client is away. Its browser
   * reconnects with Last-Event-ID and gets them replayed.
   */
  drop(input: unknown): DemoReply {
    const body = (input ?? {}) as Record<string, unknown>;
    const id = optionalName(body.id);
    if (id === undefined) return bad('id must be a client id');
    const count = body.missed === undefined ? 3 : Number(body.missed);
    if (!Number.isInteger(count) || count < 0 || count > 20) return bad('missed must be an integer from 0 to 20');
    const lastEventId = this.hub.lastEventId;
    const dropped = this.hub.disconnect(id);
    if (dropped === 0) return { status: 404, body: { error: `no connection with client id ${id}` } };
    this.flushCensus(); // The new count is one of the events the dropped client misses.
    const missed: string[] = [];
    for (let i = 1; i <= count; i++) {
      const text = `sent while ${id} was disconnected (${i}/${count})`;
      missed.push(this.hub.broadcast({ event: 'chat', data: { text, from: 'server' } }));
    }
    return { status: 200, body: { dropped, lastEventId, missed, head: this.hub.lastEventId } };
  }

  /**
   * GET /demo/stats: `hub.stats()` and `hub.health()` for the page's live panel, which polls it every
   * second and draws events per second from the difference between two answers.
   */
  stats(): DemoStats {
    return { at: Date.now(), stats: this.hub.stats(), health: this.hub.health() };
  }

  /** Stops the `tick` events. */
  stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** Stops the ticker and closes the hub (every stream ends). */
  async close(): Promise<void> {
    this.stopTicker();
    await this.hub.close();
  }
}

function optionalName(v: unknown): string | undefined {
  return typeof v === 'string' && NAME.test(v) ? v : undefined;
}

function bad(error: string): DemoReply {
  return { status: 400, body: { error } };
}

/** A static file of the demo page. */
export interface Asset {
  contentType: string;
  body: string;
}

const PUBLIC = join(__dirname, '..', 'public');
const FILES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/demo.js': { file: 'demo.js', contentType: 'text/javascript; charset=utf-8' },
  '/demo.css': { file: 'demo.css', contentType: 'text/css; charset=utf-8' },
};
const cache = new Map<string, Asset>();

/**
 * The demo page's file at `path` (`/`, `/demo.js`, `/demo.css`), or undefined. The page names the
 * framework that serves it.
 */
export function demoAsset(path: string, framework: string): Asset | undefined {
  const key = `${framework}:${path}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const entry = FILES[path];
  if (!entry) return undefined;
  const text = readFileSync(join(PUBLIC, entry.file), 'utf8').replaceAll('{{framework}}', framework);
  const asset = { contentType: entry.contentType, body: text };
  cache.set(key, asset);
  return asset;
}

/** The paths {@link demoAsset} serves. */
export const DEMO_ASSET_PATHS: readonly string[] = Object.keys(FILES);

/** Reads a small JSON request body from a Node request (Koa has no body parser of its own). */
export async function readJson(req: IncomingMessage, limit = 16 * 1024): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw Object.assign(new Error('request body is not JSON'), { status: 400 });
  }
}

/** The URL a server listening at `address` is reached on, for the start-up line. */
export function serverUrl(address: ReturnType<import('node:net').Server['address']>): string {
  if (address === null || typeof address === 'string') return String(address);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '[::]' || host === '0.0.0.0' ? 'localhost' : host}:${address.port}/`;
}

/** The lines an example prints when it starts: where to open the page, and how to publish with curl. */
export function startBanner(framework: string, address: ReturnType<import('node:net').Server['address']>, token: string): string {
  const url = serverUrl(address);
  const body = JSON.stringify({ event: 'chat', data: { text: 'hello from curl', from: 'curl' } });
  return [
    `ssehub demo (${framework}) listening on ${url}`,
    `publish from a shell: curl -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -d '${body}' ${url}api/broadcast`,
  ].join('\n');
}

/**
 * Starts an example: a Demo, its server on `PORT` (default 3000) and `HOST` (default 127.0.0.1),
 * the start-up lines, and a graceful shutdown on SIGINT and SIGTERM: `hub.drain()` ends the streams
 * over `DRAIN_MS` (default 2000) ms and closes the server, every browser reconnects by itself with its
 * Last-Event-ID (to this app once it is back, or another instance), and the process exits. Each
 * example's `server.ts` calls this.
 */
export async function runDemo(
  framework: string,
  createServer: (demo: Demo) => import('node:http').Server | Promise<import('node:http').Server>,
): Promise<void> {
  const demo = new Demo({ tickMs: Number(process.env.DEMO_TICK_MS ?? 5000), token: process.env.SSEHUB_TOKEN });
  // Some frameworks (Fastify) load their plugins before the server may listen.
  const server = await createServer(demo);
  server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
    console.log(startBanner(framework, server.address(), demo.token));
  });
  const within = Number(process.env.DRAIN_MS ?? 2000);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      demo.stopTicker();
      void demo.hub.drain({ within, server }).then(() => process.exit(0));
    });
  }
}
