/** The messages the orchestrator (run.ts) exchanges with its child processes over IPC. */

/** The servers under test. */
export const SERVERS = ['ssehub-express', 'ssehub-koa', 'ssehub-hono', 'better-sse', 'node-http', 'raw-socket'] as const;
/** Also run in (a): raw writes of pre-framed chunks on node:http's own sockets, the floor of any node:http server. */
export const EXTRA_SERVERS = ['raw-http-socket'] as const;
export type ServerKind = (typeof SERVERS)[number] | (typeof EXTRA_SERVERS)[number];

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
  | { type: 'stats' };

export type FromServer =
  | { type: 'ready'; port: number }
  | { type: 'mem'; rss: number; heapUsed: number; heapTotal: number; external: number; clients: number }
  | { type: 'started'; startNs: string }
  | { type: 'published'; endNs: string }
  | { type: 'stats'; cpuUs: number; maxRss: number; rss: number; evicted: number; clients: number };

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
