/**
 * The benchmark's orchestrator: `pnpm bench` (full run, writes bench/results/) or
 * `pnpm bench:smoke` (a few clients and events; exits 1 if any client misses an event).
 * Options: `--only a,b` runs some scenarios, `--servers x,y` some servers, `--out DIR` writes
 * elsewhere. The capacity scenario (`--only capacity`, capacity.ts) also takes `--streams N`
 * (default 50,000), `--force` (do not cap the streams to the open-file limit), `--heartbeat MS`
 * (default 15,000) and `--periods N` (heartbeat periods of the idle CPU window, default 3).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child } from './child';
import type { FromLoad, FromServer, LoadSpec, ServerKind, ToLoad, ToServer } from './protocol';
import { writeReadme } from './readme';
import { writeResults, type CaseResult, type RunResult } from './report';
import { complete, runCapacity, writeCapacity } from './capacity';
import { CAPACITY, CAPACITY_SMOKE, FULL, SMOKE, type Scenario } from './scenarios';

function arg(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : process.argv[at + 1];
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runCase(sc: Scenario, kind: ServerKind): Promise<CaseResult> {
  const server = new Child<ToServer, FromServer>('server.ts', [kind], kind);
  let load: Child<ToLoad, FromLoad> | undefined;
  try {
    const { port } = await server.next('ready');
    server.send({ type: 'mem' });
    const before = await server.next('mem');
    // Memory per connection is the slope over the second half of the connections: the first half
    // has warmed the code paths and grown the young generation, one-time costs that are not per connection.
    const pauseAt = Math.floor(sc.clients / 2);
    const spec: LoadSpec = { port, clients: sc.clients, samples: sc.samples, stalled: sc.stalled, pauseAt };
    load = new Child<ToLoad, FromLoad>('loadgen.ts', [JSON.stringify(spec)], 'loadgen');
    await load.next('half', 300_000);
    await sleep(300);
    server.send({ type: 'mem' });
    const half = await server.next('mem');
    load.send({ type: 'resume' });
    const connected = await load.next('connected', 300_000);
    await sleep(300);
    server.send({ type: 'mem' });
    const idle = await server.next('mem');

    load.send({ type: 'expect', events: sc.loop.events, quietMs: sc.quietMs });
    server.send({ type: 'run', loop: sc.loop });
    const { startNs } = await server.next('started');
    const done = await load.next('done', 600_000);
    server.send({ type: 'stats' });
    const stats = await server.next('stats');

    const delivered = done.counts.reduce((a, b) => a + Math.min(b, sc.loop.events), 0);
    const complete = done.counts.filter((n) => n === sc.loop.events).length;
    const lat = done.latenciesUs.sort((x, y) => x - y);
    const seconds = Number(BigInt(done.lastNs) - BigInt(startNs)) / 1e9;
    return {
      server: kind,
      connected: connected.ok,
      failedConnects: connected.failed,
      readers: done.counts.length,
      complete,
      delivered,
      expected: done.counts.length * sc.loop.events,
      cpuUsPerDelivery: stats.cpuUs / Math.max(1, delivered),
      deliveriesPerSec: delivered / seconds,
      latencyUs: { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? NaN, n: lat.length },
      idleBytesPerConn: ((idle.rss ?? NaN) - (half.rss ?? NaN)) / Math.max(1, idle.clients - half.clients),
      idleHeapPerConn: (idle.heapUsed - half.heapUsed) / Math.max(1, idle.clients - half.clients),
      baseRss: before.rss ?? NaN,
      peakRss: stats.maxRss,
      evicted: stats.evicted,
    };
  } finally {
    await load?.stop();
    await server.stop();
  }
}

function median(runs: CaseResult[]): CaseResult {
  const sorted = [...runs].sort((x, y) => x.cpuUsPerDelivery - y.cpuUsPerDelivery);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, repeats: runs.map((r) => r.cpuUsPerDelivery) };
}

async function main(): Promise<void> {
  const smoke = process.argv.includes('--smoke');
  const only = arg('--only')?.split(',');
  const onlyServers = arg('--servers')?.split(',');
  const scenarios = (smoke ? SMOKE : FULL).filter((s) => !only || only.includes(s.id));
  const capacity = !only || only.includes('capacity');
  const streams = arg('--streams');
  const force = process.argv.includes('--force');
  // pnpm passes its own `--` through: `pnpm bench -- --only capacity` arrives as `-- --only capacity`.
  const args = process.argv.slice(2).filter((a) => a !== '--smoke' && a !== '--');
  const command = smoke ? 'pnpm bench:smoke' : `pnpm bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
  const out = arg('--out') ?? path.join(__dirname, '..', 'results');
  const readme = path.join(__dirname, '..', '..', 'README.md');
  const result: RunResult = {
    date: new Date().toISOString(),
    command: smoke ? 'pnpm bench:smoke' : 'pnpm bench',
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '?', node: process.version, load: os.loadavg() },
    scenarios: [],
  };
  let missing = 0;
  for (const sc of scenarios) {
    const servers = sc.servers.filter((s) => !onlyServers || onlyServers.includes(s));
    const runs = new Map<ServerKind, CaseResult[]>(servers.map((s) => [s, []]));
    // Repeats interleave the servers, so a noisy minute hits them all alike.
    for (let r = 0; r < sc.repeats; r++) {
      for (const kind of servers) {
        const res = await runCase(sc, kind);
        runs.get(kind)!.push(res);
        const miss = res.readers - res.complete;
        console.log(
          `(${sc.id}) ${kind.padEnd(15)} ${res.cpuUsPerDelivery.toFixed(2).padStart(6)} us/delivery  ` +
            `${Math.round(res.deliveriesPerSec).toString().padStart(8)} del/s  p50 ${(res.latencyUs.p50 / 1000).toFixed(1)} ms ` +
            `p99 ${(res.latencyUs.p99 / 1000).toFixed(1)} ms  ${res.complete}/${res.readers} complete  evicted ${res.evicted}`,
        );
        if (smoke && (miss > 0 || res.connected < sc.clients)) missing++;
      }
    }
    result.scenarios.push({ ...sc, results: servers.map((s) => median(runs.get(s)!)) });
  }
  if (smoke) {
    const cap = capacity ? await runCapacity(CAPACITY_SMOKE, { servers: onlyServers, command }) : undefined;
    if (cap && !complete(cap)) {
      console.error('bench:smoke: a capacity run had streams that missed their headers, heartbeats or the broadcast');
      missing++;
    }
    if (missing) {
      console.error(`bench:smoke: ${missing} server runs had clients that missed events`);
      process.exit(1);
    }
    console.log('bench:smoke: every client got every event');
    return;
  }
  mkdirSync(out, { recursive: true });
  if (scenarios.length) writeResults(result, out);
  if (capacity) {
    const spec = {
      ...CAPACITY,
      heartbeatMs: Number(arg('--heartbeat') ?? CAPACITY.heartbeatMs),
      periods: Number(arg('--periods') ?? CAPACITY.periods),
    };
    const cap = await runCapacity(spec, { servers: onlyServers, streams: streams ? Number(streams) : undefined, force, command });
    writeCapacity(cap, out);
  }
  // Only a complete run into bench/results/ speaks for the README: of all the scenarios, or of the
  // capacity scenario alone (the section then keeps the stored fan-out results).
  if (onlyServers || arg('--out') || streams || force || arg('--heartbeat') || arg('--periods')) return;
  if (!only) writeReadme(result, readme);
  else if (only.length === 1 && capacity) {
    const stored = path.join(out, 'results.json');
    if (existsSync(stored)) writeReadme(JSON.parse(readFileSync(stored, 'utf8')) as RunResult, readme);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
