/**
 * The capacity scenario: how many idle SSE streams one server process holds, and what they cost.
 *
 * For each server in turn (one process, the default 15 s heartbeat): load-generator processes
 * (capload.ts, each under the open-file limit, from several loopback source addresses) open the
 * streams at a bounded ramp; memory is read after GC at half and at all of them (the per-stream
 * figure is the slope between); server CPU is read over several heartbeat periods of idling; then
 * the server broadcasts one event and the load generators note when each stream read it.
 *
 * One process cannot hold more sockets than its open-file limit allows. When the streams asked for
 * do not fit, the scenario says so, runs at the most that fit (the limit less `headroom` for the
 * server's own descriptors), and then probes: it opens `headroom` more connections to measure how
 * many streams the server really holds at most.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child } from './child';
import { fdLimits, hasSysResource } from './fds';
import type { CapLoadSpec, FromCapLoad, FromServer, ServerKind, ToCapLoad, ToServer } from './protocol';
import { HEARTBEAT_SERVERS } from './protocol';
import type { CapacitySpec } from './scenarios';

/** The figures of one server. */
export interface CapacityCase {
  server: ServerKind;
  /** Streams with response headers, and connections that failed. */
  streams: number;
  failedConnects: number;
  /** Streams per second until the last had its response headers (the memory pause at half excluded). */
  connectPerSec: number;
  /** Seconds the first and the second half of the streams took to connect. */
  connectSeconds: number[];
  /** RSS and V8 heap after GC: before any stream, with all of them, and after the idle window. */
  baseRss: number;
  fullRss: number;
  idleRss: number;
  baseHeap: number;
  fullHeap: number;
  idleHeap: number;
  /** Per stream: the slope over the second half of the streams (one-time costs left out). */
  rssPerStream: number;
  heapPerStream: number;
  /** Server CPU (user + system) over the idle window, and the window. */
  idleCpuMs: number;
  idleSeconds: number;
  /** Idle CPU in ms per second per 10,000 streams: the cost of holding them, heartbeats included. */
  cpuMsPerSecPer10k: number;
  /**
   * Of it, V8's main-thread GC pauses, in the same unit. Incremental marking steps and the
   * concurrent marking on V8's helper threads are in the CPU figure but not here.
   */
  gcMsPerSecPer10k: number;
  /** Heartbeats each stream read during the window, on average. */
  heartbeatsPerStream: number;
  /** The broadcast: streams that read it (of those open), ms from the publish call to the median and the last. */
  broadcast: { received: number; open: number; p50Ms: number; lastMs: number };
  /** Server CPU from the publish call until the last stream had it. */
  broadcastCpuMs: number;
  /** From the publish call to the server's next event-loop turn: its own share of the broadcast's time. */
  publishMs: number;
  /** The server's own descriptors before any stream, and all of them with every stream open. */
  baseFds: number;
  fullFds: number;
  evicted: number;
  /**
   * After a capped run: `tried` more connections, `ok` of them got headers; the server then held
   * `held` streams on `fds` descriptors (null: it could not open /proc/self/fd, none was left).
   */
  probe?: { tried: number; ok: number; held: number; fds: number | null; acceptErrors: number };
}

export interface CapacityRun {
  date: string;
  command: string;
  /** `load`: the load average when the scenario began; `memory`: total bytes. */
  machine: { cpus: number; model: string; node: string; load: number[]; memory: number };
  spec: CapacitySpec;
  /** Streams asked for, and streams this run held per server. */
  asked: number;
  streams: number;
  capped: boolean;
  /** The open-file limit of the bench processes, what asking for more said, and whether they have CAP_SYS_RESOURCE. */
  limit: { soft: number; hard: number; asked: number; raise: string; capSysResource: boolean };
  loadgens: number;
  addresses: string[];
  /** The note printed and written when the limit capped the run. */
  note?: string;
  results: CapacityCase[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const maxBig = (xs: bigint[]) => xs.reduce((a, b) => (b > a ? b : a));
const minBig = (xs: bigint[]) => xs.reduce((a, b) => (b < a ? b : a));

/** Tries to raise the open-file limit to `n` in a child shell: what it says is the finding. */
function tryRaise(n: number): string {
  const r = spawnSync('sh', ['-c', `ulimit -n ${n} && ulimit -n`], { encoding: 'utf8' });
  if (r.status === 0) return `raised to ${r.stdout.trim()}`;
  return (r.stderr || r.stdout).trim().replace(/^.*?ulimit: /, 'ulimit: ') || `exit ${r.status}`;
}

function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

async function all<T>(ps: Promise<T>[]): Promise<T[]> {
  return Promise.all(ps);
}

async function runServer(
  spec: CapacitySpec,
  kind: ServerKind,
  streams: number,
  addresses: string[],
  loadgens: number,
  probe: boolean,
): Promise<CapacityCase> {
  const server = new Child<ToServer, FromServer>('server.ts', [kind, String(spec.heartbeatMs)], kind);
  const loads: Child<ToCapLoad, FromCapLoad>[] = [];
  try {
    const ready = await server.next('ready');
    if (ready.fds + streams > ready.fdLimit) {
      console.error(`capacity: ${kind} has ${ready.fds} descriptors open before any stream: ${streams} more exceed its limit ${ready.fdLimit}`);
    }
    const mem = async () => {
      server.send({ type: 'mem' });
      const m = await server.next('mem');
      return { ...m, rss: m.rss ?? NaN, fds: m.fds ?? NaN };
    };
    const base = await mem();
    for (const share of split(streams, loadgens)) {
      const ls: CapLoadSpec = { port: ready.port, streams: share, addresses, window: spec.window, pauseAt: Math.floor(share / 2) };
      loads.push(new Child<ToCapLoad, FromCapLoad>('capload.ts', [JSON.stringify(ls)], 'capload'));
    }
    const halves = await all(loads.map((l) => l.next('half', 600_000)));
    await sleep(300);
    const half = await mem();
    for (const l of loads) l.send({ type: 'resume' });
    const rests = await all(loads.map((l) => l.next('connected', 600_000)));
    await sleep(300);
    const full = await mem();
    const phase = (xs: { startNs: string; endNs: string }[]) =>
      Number(maxBig(xs.map((x) => BigInt(x.endNs))) - minBig(xs.map((x) => BigInt(x.startNs)))) / 1e9;
    const ok = rests.reduce((a, r) => a + r.ok, 0);
    const failed = rests.reduce((a, r) => a + r.failed, 0);
    const connectSeconds = [phase(halves), phase(rests)];

    // Idle: let the connect work settle, then read CPU over whole heartbeat periods.
    await sleep(1000);
    const beats = async () => {
      for (const l of loads) l.send({ type: 'beats' });
      const bs = await all(loads.map((l) => l.next('beats')));
      return { heartbeats: bs.reduce((a, b) => a + b.heartbeats, 0), open: bs.reduce((a, b) => a + b.open, 0) };
    };
    const cpu = async () => {
      server.send({ type: 'cpu' });
      return server.next('cpu');
    };
    // Heartbeats are counted over a window as long as the CPU's, 200 ms later: a heartbeat's bytes
    // reach the load generators a little after the server wrote them.
    const c0 = await cpu();
    await sleep(200);
    const b0 = await beats();
    await sleep(spec.periods * spec.heartbeatMs - 200);
    const c1 = await cpu();
    await sleep(200);
    const b1 = await beats();
    const idle = await mem();
    const idleCpuMs = (c1.cpuUs - c0.cpuUs) / 1000;
    const idleSeconds = Number(BigInt(c1.ns) - BigInt(c0.ns)) / 1e9;

    // One broadcast to every stream.
    for (const l of loads) l.send({ type: 'expect', quietMs: spec.quietMs });
    server.send({ type: 'run', loop: { events: 1, burst: 1, rate: 0, size: 128 } });
    const { startNs } = await server.next('started');
    const { endNs } = await server.next('published');
    const got = await all(loads.map((l) => l.next('received', spec.quietMs + 120_000)));
    server.send({ type: 'stats' });
    const stats = await server.next('stats');
    const start = BigInt(startNs);
    const ms = got
      .flatMap((g) => g.atNs)
      .map((ns) => Number(BigInt(ns) - start) / 1e6)
      .sort((x, y) => x - y);
    const lastNs = got.flatMap((g) => g.atNs).map(BigInt);
    const bcCpuMs = stats.cpuUs / 1000;

    let probed: CapacityCase['probe'];
    if (probe) {
      // The run left `headroom` descriptors free: try to use all of them, and one more.
      loads[0]!.send({ type: 'probe', streams: spec.headroom });
      const p = await loads[0]!.next('probed', 120_000);
      await sleep(500);
      server.send({ type: 'mem' });
      const after = await server.next('mem');
      server.send({ type: 'stats' });
      const st = await server.next('stats');
      probed = { tried: spec.headroom, ok: p.ok, held: after.clients, fds: after.fds, acceptErrors: st.acceptErrors };
    }

    const slope = (a: number, b: number) => (b - a) / Math.max(1, full.clients - half.clients);
    return {
      server: kind,
      streams: ok,
      failedConnects: failed,
      connectPerSec: ok / (connectSeconds[0]! + connectSeconds[1]!),
      connectSeconds,
      baseRss: base.rss,
      fullRss: full.rss,
      idleRss: idle.rss,
      baseHeap: base.heapUsed,
      fullHeap: full.heapUsed,
      idleHeap: idle.heapUsed,
      rssPerStream: slope(half.rss, full.rss),
      heapPerStream: slope(half.heapUsed, full.heapUsed),
      idleCpuMs,
      idleSeconds,
      cpuMsPerSecPer10k: idleCpuMs / idleSeconds / (ok / 10_000),
      gcMsPerSecPer10k: (c1.gcMs - c0.gcMs) / idleSeconds / (ok / 10_000),
      heartbeatsPerStream: (b1.heartbeats - b0.heartbeats) / Math.max(1, b1.open),
      broadcast: {
        received: ms.length,
        open: got.reduce((a, g) => a + g.open, 0),
        p50Ms: ms.length ? ms[Math.floor((ms.length - 1) / 2)]! : NaN,
        lastMs: lastNs.length ? Number(maxBig(lastNs) - start) / 1e6 : NaN,
      },
      broadcastCpuMs: bcCpuMs,
      publishMs: Number(BigInt(endNs) - start) / 1e6,
      baseFds: ready.fds,
      fullFds: full.fds,
      evicted: stats.evicted,
      probe: probed,
    };
  } finally {
    // The server first: resetting its streams under it would have Koa log every one (`read ECONNRESET`).
    await server.stop();
    for (const l of loads) if (l.alive) l.send({ type: 'close' });
    await Promise.all(loads.map((l) => l.stop()));
  }
}

/** Runs the scenario against `servers` (all of the spec's by default). `force`: do not cap to the limit. */
export async function runCapacity(
  spec: CapacitySpec,
  opts: { servers?: string[]; streams?: number; force?: boolean; command: string },
): Promise<CapacityRun> {
  const asked = opts.streams ?? spec.streams;
  // `--servers` picks among the servers that send heartbeats (the raw writers do not).
  const servers = HEARTBEAT_SERVERS.filter((s) => (opts.servers ? opts.servers.includes(s) : spec.servers.includes(s)));
  const { soft, hard } = fdLimits();
  const fit = soft - spec.headroom;
  const capped = !opts.force && asked > fit;
  const streams = capped ? fit : asked;
  const raise = asked + spec.headroom > soft ? tryRaise(asked + spec.headroom) : 'not needed';
  let note: string | undefined;
  if (capped) {
    note =
      `Asked for ${asked.toLocaleString('en-US')} streams, but one process may have at most ${soft.toLocaleString('en-US')} ` +
      `open files here (RLIMIT_NOFILE soft ${soft}, hard ${hard}; raising it to ${asked + spec.headroom} said: ${raise}). ` +
      `Running at ${streams.toLocaleString('en-US')} streams per server: the limit less ${spec.headroom} descriptors ` +
      `for the server's own use.`;
    const bar = '!'.repeat(100);
    console.error(`\n${bar}\ncapacity: ${note}\n${bar}\n`);
  }
  // Each load generator stays under the limit too, with room for its own descriptors.
  const perLoadgen = Math.min(spec.perLoadgen, soft - spec.headroom);
  const loadgens = Math.max(1, Math.ceil(streams / perLoadgen));
  const addresses = Array.from({ length: Math.max(2, Math.ceil(streams / spec.perAddress)) }, (_, i) => `127.0.0.${i + 2}`);
  const run: CapacityRun = {
    date: new Date().toISOString(),
    command: opts.command,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '?', node: process.version, load: os.loadavg(), memory: os.totalmem() },
    spec: { ...spec, servers },
    asked,
    streams,
    capped,
    limit: { soft, hard, asked: asked + spec.headroom, raise, capSysResource: hasSysResource() },
    loadgens,
    addresses,
    note,
    results: [],
  };
  console.log(
    `capacity: ${streams} streams per server, ${loadgens} load generators, source addresses ${addresses[0]}..${addresses[addresses.length - 1]}, ` +
      `heartbeat ${spec.heartbeatMs} ms, idle window ${spec.periods} periods; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
  );
  for (const kind of servers) {
    const r = await runServer(spec, kind, streams, addresses, loadgens, capped);
    run.results.push(r);
    console.log(
      `(capacity) ${kind.padEnd(15)} ${r.streams} streams  ${Math.round(r.connectPerSec)} conn/s (${r.connectSeconds.map((x) => x.toFixed(1)).join(' + ')} s)  ` +
        `RSS ${(r.idleRss / 1048576).toFixed(0)} MiB (${(r.rssPerStream / 1024).toFixed(2)} KiB/stream, heap ${(r.heapPerStream / 1024).toFixed(2)})  ` +
        `idle CPU ${r.cpuMsPerSecPer10k.toFixed(2)} ms/s per 10k (GC ${r.gcMsPerSecPer10k.toFixed(2)})  ${r.heartbeatsPerStream.toFixed(2)} beats/stream  ` +
        `broadcast ${r.broadcast.received}/${r.broadcast.open} last ${r.broadcast.lastMs.toFixed(1)} ms` +
        (r.probe ? `  probe: +${r.probe.ok}/${r.probe.tried}, held ${r.probe.held} on ${r.probe.fds ?? 'all'} fds, ${r.probe.acceptErrors} accept errors` : ''),
    );
  }
  if (note) console.error(`\ncapacity: ${note}\n`);
  return run;
}

/** Whether every stream connected, read heartbeats and got the broadcast (the smoke run's check). */
export function complete(run: CapacityRun): boolean {
  return run.results.every(
    (r) => r.streams === run.streams && r.heartbeatsPerStream >= 1 && r.broadcast.received === r.streams && r.evicted === 0,
  );
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const mib = (b: number) => int(b / 1048576);

/** The most streams a server was seen to hold: the probe's count when there was one. */
export function held(r: CapacityCase): number {
  return r.probe ? r.probe.held : r.streams;
}

/** RSS at `n` streams, extrapolated from the figures measured at the run's count. */
export function rssAt(r: CapacityCase, n: number): number {
  return r.idleRss + r.rssPerStream * (n - r.streams);
}

/** The Markdown table of a capacity run. */
export function capacityMarkdown(run: CapacityRun): string {
  const s = run.spec;
  const lines: string[] = [];
  lines.push(
    `**(capacity) ${int(run.streams)} ${s.title}** — run ${run.date} with \`${run.command}\` on ${run.machine.cpus} x ` +
      `${run.machine.model}, Node ${run.machine.node}, load average ${run.machine.load.map((x) => x.toFixed(2)).join(' ')} at the start.`,
  );
  lines.push('');
  if (run.note) {
    lines.push(`> **Not the ${int(run.asked)} asked for.** ${run.note}`);
    lines.push('');
  }
  const asked = int(run.asked);
  const extra = run.capped ? ` | RSS MiB at ${asked} (extrapolated) | CPU % of a core at ${asked} (extrapolated)` : '';
  lines.push(
    `| server | streams | connect streams/s | RSS MiB, idle | RSS KiB/stream | heap KiB/stream | idle CPU ms/s per 10k streams | of it GC pauses | heartbeats/stream | fds${extra} |`,
  );
  lines.push(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${run.capped ? ' ---: | ---: |' : ''}`);
  for (const r of run.results) {
    const ex = run.capped ? ` | ${mib(rssAt(r, run.asked))} | ${fmt((r.cpuMsPerSecPer10k * run.asked) / 10_000 / 10, 1)}` : '';
    lines.push(
      `| ${r.server} | ${int(r.streams)} | ${int(r.connectPerSec)} | ${mib(r.idleRss)} | ${fmt(r.rssPerStream / 1024)} | ` +
        `${fmt(r.heapPerStream / 1024)} | ${fmt(r.cpuMsPerSecPer10k)} | ${fmt(r.gcMsPerSecPer10k)} | ${fmt(r.heartbeatsPerStream)} | ${int(r.fullFds)}${ex} |`,
    );
  }
  lines.push('');
  lines.push('| server | got the broadcast | server publish ms | server CPU ms | p50 ms | last stream ms |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of run.results) {
    const b = r.broadcast;
    lines.push(
      `| ${r.server} | ${int(b.received)}/${int(b.open)} | ${fmt(r.publishMs, 1)} | ${fmt(r.broadcastCpuMs, 0)} | ${fmt(b.p50Ms, 1)} | ${fmt(b.lastMs, 1)} |`,
    );
  }
  lines.push('');
  lines.push(
    `Memory is read after a forced GC; per stream is the slope over the second half of the streams; RSS idle is after the ` +
      `${s.periods} heartbeat periods (${(s.periods * s.heartbeatMs) / 1000} s) over which idle CPU (user + system, all threads) is measured; ` +
      `of it, GC pauses: V8's main-thread pauses only (its incremental and concurrent marking are in the CPU figure, ` +
      `not here; a memory-reducing full GC some time after the ramp may or may not fall in the window). ` +
      `The broadcast is one 128-byte event; its times run from the publish call to each stream's first read of it ` +
      `(server publish: to the server's next event-loop turn; server CPU: until the last stream had it). ` +
      `${run.loadgens} load-generator processes, at most ${s.window} connections each in flight, from ${run.addresses.length} ` +
      `loopback source addresses (${run.addresses[0]} to ${run.addresses[run.addresses.length - 1]}). ` +
      `fds: the server's open descriptors with every stream open. Wall-clock figures (connect rate, broadcast times) ` +
      `move with the machine's load (the load average above, on ${run.machine.cpus} cores shared with other work); ` +
      `server CPU figures much less.`,
  );
  const probes = run.results.filter((r) => r.probe);
  if (probes.length) {
    // Servers that ended alike share one clause.
    const alike = new Map<string, string[]>();
    for (const r of probes) {
      const p = r.probe!;
      const on = p.fds === null ? 'every descriptor the limit allows (/proc/self/fd could not even be opened to count them)' : `${int(p.fds)} descriptors`;
      const key = `took ${p.ok} more and then held ${int(p.held)} streams on ${on}`;
      alike.set(key, [...(alike.get(key) ?? []), r.server]);
    }
    const clauses = [...alike].map(([what, who]) => `${who.length === probes.length ? 'every server' : who.join(', ')} ${what}`);
    lines.push('');
    lines.push(
      `Probe after each server's run, for the real maximum: ${s.headroom} more connections; ${clauses.join('; ')}. ` +
        'The connections past the limit were refused at accept (EMFILE) and closed.',
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** Writes capacity.json and capacity.md into `dir`. */
export function writeCapacity(run: CapacityRun, dir: string): void {
  writeFileSync(path.join(dir, 'capacity.json'), JSON.stringify(run, null, 2) + '\n');
  writeFileSync(path.join(dir, 'capacity.md'), capacityMarkdown(run));
  process.stdout.write('\n' + capacityMarkdown(run) + '\n');
}
