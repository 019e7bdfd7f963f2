/** The messages the orchestrator (run.ts) exchanges with its child processes over IPC. */

/**
 * The servers under test. `hono-streamsse` is Hono's own `streamSSE` helper on `@hono/node-server`;
 * `fastify-sse` is `@fastify/sse` on Fastify 5; `ssehub-fetch-bun` is `@ssehub/fetch` under the real
 * `Bun.serve` (a Bun process, bun-server.ts).
 */
export const SERVERS = [
  'ssehub-express',
  'ssehub-koa',
  'ssehub-hono',
  'ssehub-fastify',
  'ssehub-fetch-bun',
  'better-sse',
  'hono-streamsse',
  'fastify-sse',
  'node-http',
  'raw-socket',
] as const;
/** Also run in (a): raw writes of pre-framed chunks on node:http's own sockets, the floor of any node:http server. */
export const EXTRA_SERVERS = ['raw-http-socket'] as const;
export type ServerKind = (typeof SERVERS)[number] | (typeof EXTRA_SERVERS)[number];
/** The servers that send heartbeats when given a period (the raw writers never do). */
export const HEARTBEAT_SERVERS: readonly ServerKind[] = ['ssehub-express', 'ssehub-koa', 'ssehub-hono', 'ssehub-fastify', 'better-sse', 'node-http'];

/** How the server's own broadcast loop publishes. */
export interface LoopSpec {
  /** Events to publish in all. */
  events: number;
  /** Events published together in one event-loop turn (1: one per turn). */
  burst: number;
  /** Events per second, paced by timers; 0 publishes as fast as the loop turns. */
  rate: number;
  /** Bytes of each event on the SSE wire. */
  size: number;
}

export type ToServer =
  | { type: 'mem' }
  | { type: 'run'; loop: LoopSpec }
  | { type: 'stats' }
  | { type: 'cpu' };

export type FromServer =
  /** `fds`: descriptors the process has open once listening; `fdLimit`: its RLIMIT_NOFILE (soft). */
  | { type: 'ready'; port: number; fds: number; fdLimit: number }
  /** `rss` and `fds` are null when reading them failed: no descriptor left to open /proc files with. */
  | { type: 'mem'; rss: number | null; heapUsed: number; heapTotal: number; external: number; clients: number; fds: number | null }
  /** CPU time used so far (user + system, all threads), when it was read (hrtime), and main-thread GC pauses so far. */
  | { type: 'cpu'; cpuUs: number; ns: string; gcMs: number }
  | { type: 'started'; startNs: string }
  | { type: 'published'; endNs: string }
  | {
      type: 'stats';
      cpuUs: number;
      maxRss: number;
      rss: number | null;
      evicted: number;
      clients: number;
      /** Failed accepts (EMFILE once the descriptor limit is reached). */
      acceptErrors: number;
    };

/**
 * Between server.ts and bun-server.ts only: Bun's `process.hrtime` counts from its own start, so the
 * relay measures the offset to Node's (the shared monotonic clock) with pings and sends it.
 */
export type ClockMessage = { type: 'ping' } | { type: 'pong'; ns: string } | { type: 'offset'; ns: string };

export interface LoadSpec {
  port: number;
  /** Connections to open. */
  clients: number;
  /** Of them, how many parse every event to time it (spread evenly over the connection order). */
  samples: number;
  /** Of them, how many stop reading once the headers arrive (scenario d). */
  stalled: number;
  /** After this many connections, report `half` and wait for `resume` (memory is measured there). */
  pauseAt: number;
}

export type ToLoad =
  | { type: 'resume' }
  | { type: 'expect'; events: number; quietMs: number }
  | { type: 'close' };

export type FromLoad =
  | { type: 'half'; ok: number }
  | { type: 'connected'; ok: number; failed: number }
  | {
      type: 'done';
      /** Events counted per reading (not stalled) client. */
      counts: number[];
      /** Latencies of the sample clients, in microseconds. */
      latenciesUs: number[];
      /** hrtime (ns) when the last event arrived. */
      lastNs: string;
      /** Stalled clients whose connection the server closed. */
      stalledClosed: number;
    };

// ---- the capacity scenario's load generator (capload.ts) -----------------------------------------

export interface CapLoadSpec {
  port: number;
  /** Streams this process opens. */
  streams: number;
  /** Loopback source addresses, used in turn (each has its own ephemeral-port range). */
  addresses: string[];
  /** Connections in flight (connecting, or waiting for the response headers) at most. */
  window: number;
  /** After this many streams, report `half` and wait for `resume` (memory is measured there). */
  pauseAt: number;
}

export type ToCapLoad =
  | { type: 'resume' }
  /** Report the heartbeats received so far. */
  | { type: 'beats' }
  /** Report, once every open stream has the broadcast (or none arrived for `quietMs`), when each got it. */
  | { type: 'expect'; quietMs: number }
  /** Open `streams` more connections and report how many got the response headers. */
  | { type: 'probe'; streams: number }
  /** Reset every connection (no TIME_WAIT left behind) and exit. */
  | { type: 'close' };

/** A connect phase ended: `ok` streams have headers (in all, for `connected`); hrtime when the phase began and when its last headers arrived. */
export interface ConnectPhase {
  ok: number;
  failed: number;
  startNs: string;
  endNs: string;
}

export type FromCapLoad =
  | ({ type: 'half' } & ConnectPhase)
  | ({ type: 'connected' } & ConnectPhase)
  | { type: 'beats'; heartbeats: number; open: number }
  /** hrtime (ns) at which each stream that got the broadcast read it; `open`: streams open when asked. */
  | { type: 'received'; atNs: string[]; open: number }
  | { type: 'probed'; ok: number; failed: number };
