/**
 * A server under test's side of the orchestrator's protocol, runtime-neutral: the Node server
 * process (server.ts) and the Bun one (bun-server.ts) both answer `mem`, `cpu`, `run` and `stats`
 * through it, each measuring its own process (CPU from `process.cpuUsage()`, memory from RSS and
 * the engine's heap statistics), so a relay in between costs the figures nothing.
 */
import { getHeapStatistics } from 'node:v8';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { openFds } from './fds';
import { nowNs } from './payload';
import type { FromServer, LoopSpec, ToServer } from './protocol';

/** What the protocol needs from a server under test. */
export interface Publisher {
  /** Publishes event `n`, `size` bytes on the SSE wire, to every connection. */
  publish(n: number, size: number): void;
  clients(): number;
  evicted(): number;
}

/** The process's own measurements that differ by runtime. */
export interface Probes {
  /** A full garbage collection before memory is read. */
  gc(): void;
  /** Main-thread GC pauses so far, in ms (0 where the runtime reports none). */
  gcMs(): number;
  /** Failed accepts so far. */
  acceptErrors(): number;
}

/** `f()`, or null when it fails (EMFILE: no descriptor left to open a file under /proc). */
function orNull(f: () => number): number | null {
  try {
    return f();
  } catch {
    return null;
  }
}

async function runLoop(ut: Publisher, loop: LoopSpec, send: (m: FromServer) => void): Promise<void> {
  const start = nowNs();
  send({ type: 'started', startNs: String(start) });
  const periodNs = loop.rate > 0 ? 1e9 / loop.rate : 0;
  let n = 0;
  while (n < loop.events) {
    for (let i = 0; i < loop.burst && n < loop.events; i++) ut.publish(++n, loop.size);
    if (periodNs > 0) {
      // Paced from the start time, so timer lateness does not accumulate.
      const due = Number(start) + n * periodNs;
      const wait = (due - Number(nowNs())) / 1e6;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    } else {
      await nextTurn();
    }
  }
  send({ type: 'published', endNs: String(nowNs()) });
}

/** The handler of the orchestrator's messages for `ut`, replying through `send`. */
export function control(ut: Publisher, send: (m: FromServer) => void, probes: Probes): (msg: ToServer) => void {
  let cpuStart: NodeJS.CpuUsage | undefined;
  return (msg) => {
    if (msg.type === 'mem') {
      probes.gc();
      // The heap figures come from the engine itself: reading RSS and the descriptors opens a file
      // under /proc, which fails (EMFILE) once the streams have taken every descriptor the limit allows.
      const h = getHeapStatistics();
      send({
        type: 'mem',
        rss: orNull(() => process.memoryUsage.rss()),
        heapUsed: h.used_heap_size,
        heapTotal: h.total_heap_size,
        external: h.external_memory,
        clients: ut.clients(),
        fds: orNull(openFds),
      });
    } else if (msg.type === 'cpu') {
      const cpu = process.cpuUsage();
      send({ type: 'cpu', cpuUs: cpu.user + cpu.system, ns: String(nowNs()), gcMs: probes.gcMs() });
    } else if (msg.type === 'run') {
      cpuStart = process.cpuUsage();
      void runLoop(ut, msg.loop, send);
    } else if (msg.type === 'stats') {
      const cpu = process.cpuUsage(cpuStart);
      send({
        type: 'stats',
        cpuUs: cpu.user + cpu.system,
        maxRss: process.resourceUsage().maxRSS * 1024,
        rss: orNull(() => process.memoryUsage.rss()),
        evicted: ut.evicted(),
        clients: ut.clients(),
        acceptErrors: probes.acceptErrors(),
      });
    }
  };
}
