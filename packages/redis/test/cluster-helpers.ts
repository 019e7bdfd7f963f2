import net from 'node:net';
import { createHub, type Delivered, type Hub, type HubLogger, type HubOptions } from '@ssehub/core';
import { redisBackplane, type RedisBackplane, type RedisBackplaneOptions } from '@ssehub/redis';
import { startServer, type AdapterName, type StartOptions, type TestServer } from '../../testing/src/servers';
import { HttpStream, waitUntil } from '../../testing/src/clients';

/** One hub process, simulated: its own hub, backplane (own Redis connections) and HTTP server. */
export interface Instance {
  readonly name: string;
  readonly hub: Hub;
  readonly backplane: RedisBackplane;
  readonly server: TestServer;
  /** What the hub reported through `onError`. */
  readonly errors: unknown[];
  /** Every broadcast this hub's `listen()` saw, in order. */
  readonly heard: Delivered[];
  /** The backplane states the hub logged, in order (from its logger, unless the test gave its own). */
  readonly states: string[];
}

export interface ClusterOptions {
  hub?: HubOptions;
  backplane?: RedisBackplaneOptions;
  sse?: StartOptions['sse'];
}

/** Starts one instance per adapter, all on the same Redis and prefix, and waits until each joined. */
export async function startCluster(adapters: AdapterName[], options: ClusterOptions): Promise<Instance[]> {
  const out: Instance[] = [];
  for (const [i, adapter] of adapters.entries()) {
    const errors: unknown[] = [];
    const states: string[] = [];
    // The hub logs an outage at warn and every other state change at info (`ssehub: backplane <state>`).
    const logger: HubLogger = {
      warn: (message) => void (/backplane unreachable/.test(message) && states.push('outage')),
      info: (message) => void (/^ssehub: backplane /.test(message) && states.push(message.slice('ssehub: backplane '.length))),
    };
    const backplane = redisBackplane(options.backplane);
    const hub = createHub({ heartbeat: 0, logger, ...options.hub, backplane, onError: (err) => errors.push(err) });
    const server = await startServer(adapter, hub, {
      sse: options.sse,
      // Koa logs every client reset to stderr; the balancer test resets clients on purpose.
      mount: { koa: (app) => app.on('error', (err: NodeJS.ErrnoException) => err.code !== 'ECONNRESET' && errors.push(err)) },
    });
    const heard: Delivered[] = [];
    void (async () => {
      for await (const m of hub.listen({ maxQueue: 1_000_000 })) heard.push(m);
    })();
    await backplane.ready();
    out.push({ name: `${adapter}#${i}`, hub, backplane, server, errors, heard, states });
  }
  return out;
}

export async function stopCluster(instances: Instance[]): Promise<void> {
  for (const i of instances) {
    await i.hub.close();
    await i.server.close();
  }
}

/** Waits until every instance's `listen()` has seen `n` broadcasts. */
export function waitHeard(instances: Instance[], n: number, ms = 10_000): Promise<void> {
  return waitUntil(
    () => instances.every((i) => i.heard.length >= n),
    `every hub to hear ${n} broadcasts (${instances.map((i) => i.heard.length).join(', ')})`,
    ms,
  );
}

/**
 * A round-robin TCP load balancer in front of the instances: each new connection goes to the next
 * one, and `cut()` drops every open connection, so clients reconnect (to another instance).
 */
export class RoundRobin {
  private next = 0;
  private readonly open = new Set<net.Socket>();
  private readonly server: net.Server;
  port = 0;

  constructor(private readonly ports: number[]) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.ports[this.next++ % this.ports.length]!, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.open.add(s);
        s.on('close', () => this.open.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get connections(): number {
    return this.open.size / 2;
  }

  cut(): void {
    for (const s of this.open) s.destroy();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Whether a client with these channels and client id receives this broadcast. */
export function visibleTo(m: Delivered, channels: readonly string[], clientId?: string): boolean {
  if (m.clientId !== undefined) return m.clientId === clientId;
  if (m.channel === undefined) return true;
  return (typeof m.channel === 'string' ? [m.channel] : m.channel).some((ch) => channels.includes(ch));
}

/**
 * The events a client should have read: from the first one it read to the end of `global`,
 * filtered to what it may see. Compared with what it read, this checks no loss, no duplicate,
 * same order.
 */
export function expectedFrom(global: Delivered[], firstId: string, channels: readonly string[], clientId?: string): string[] {
  const start = global.findIndex((m) => m.id === firstId);
  if (start === -1) throw new Error(`the first id a client read (${firstId}) is not in the global order`);
  return global.slice(start).filter((m) => visibleTo(m, channels, clientId)).map((m) => m.id);
}

/** Opens a stream on an instance, records it in `streams` (closed after each test), and expects a 200. */
export async function openStream(streams: HttpStream[], i: Instance, query = '', headers: Record<string, string> = {}): Promise<HttpStream> {
  const s = await HttpStream.open(`${i.server.origin}/events${query}`, headers);
  streams.push(s);
  expect(s.status).toBe(200);
  return s;
}
