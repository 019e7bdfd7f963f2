/**
 * Cross-instance benchmark of @ssehub/redis: `pnpm bench:redis` from the root.
 *
 * Three cases, each with the same clients, events and rate, every role in its own process:
 * - `single`: one hub, no backplane; the publisher and the clients on the same instance.
 * - `backplane-local`: one hub with the Redis backplane; clients on the publishing instance (the
 *   event goes to Redis and back before it is delivered).
 * - `cross`: two hubs with the backplane; broadcasts on instance A, every client on instance B.
 *
 * Reported per case: latency from `broadcast()` to the client reading the event (sample clients),
 * and CPU time of the hub processes (and of redis-server) per event and per delivery.
 * Options: `--clients N` (default 200), `--events N` (1500), `--rate N` events/s (200),
 * `--samples N` latency sample clients (20), `--rounds N` (3; figures are medians over rounds),
 * `--redis URL` (`redis://127.0.0.1:6379`),
 * `--out DIR` (bench/results). Writes cross-instance.json and cross-instance.md there.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHub, type Hub } from '@ssehub/core';
import { connectParams } from '@ssehub/core/adapter';
import { serveNode, nodeStreamRequest } from '@ssehub/core/adapter/node';
import { redisBackplane } from '@ssehub/redis';

// ---- messages between the orchestrator and its children ---------------------------------------

type ToChild = { type: 'cpu' } | { type: 'publish'; events: number; rate: number } | { type: 'stop' };
type FromChild =
  | { type: 'ready'; port: number }
  | { type: 'cpu'; us: number }
  | { type: 'published'; events: number }
  | { type: 'connected' }
  | { type: 'received'; counts: number[]; latenciesUs: number[] };

interface Options {
  clients: number;
  events: number;
  rate: number;
  samples: number;
  rounds: number;
  redis: string;
  out: string;
}

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1]!;
}

/** Microseconds since the epoch, comparable across processes on one machine. */
function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const send = (m: FromChild) => process.send!(m);

// ---- the hub instance role ----------------------------------------------------------------------

async function serverRole(backplane: boolean, prefix: string, redisUrl: string): Promise<void> {
  const bp = backplane ? redisBackplane({ url: redisUrl, prefix }) : undefined;
  const hub: Hub = createHub({
    heartbeat: 0,
    history: 1000,
    backplane: bp,
    maxBufferedBytes: 8 * 1024 * 1024,
    onError: (err) => console.error(`bench hub ${process.pid}:`, err instanceof Error ? err.message : err),
  });
  const server = http.createServer((req, res) => {
    serveNode(hub, res, connectParams(req, nodeStreamRequest(req), {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await bp?.ready();
  send({ type: 'ready', port: (server.address() as net.AddressInfo).port });
  const pad = 'x'.repeat(64);
  process.on('message', async (m: ToChild) => {
    if (m.type === 'cpu') {
      const u = process.cpuUsage();
      send({ type: 'cpu', us: u.user + u.system });
    } else if (m.type === 'publish') {
      // A steady rate: each 10 ms tick publishes what the schedule says is due.
      const start = performance.now();
      let sent = 0;
      while (sent < m.events) {
        const due = Math.min(m.events, Math.floor(((performance.now() - start) / 1000) * m.rate) + 1);
        while (sent < due) hub.broadcast({ data: `{"t":${nowUs()},"n":${sent++},"pad":"${pad}"}` });
        await sleep(10);
      }
      send({ type: 'published', events: sent });
    } else if (m.type === 'stop') {
      await hub.close();
      server.close();
      process.exit(0);
    }
  });
}

// ---- the clients role: raw sockets, minimal parsing ---------------------------------------------

async function clientsRole(port: number, clients: number, samples: number, events: number): Promise<void> {
  const counts = new Array<number>(clients).fill(0);
  const latenciesUs: number[] = [];
  const T = /"t":(\d+)/g;
  let connected = 0;
  const sockets: net.Socket[] = [];
  for (let i = 0; i < clients; i++) {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    const sample = i < samples;
    let headerDone = false;
    let carry = '';
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`));
    socket.on('data', (chunk: string) => {
      const at = nowUs();
      let text = carry + chunk;
      if (!headerDone) {
        const end = text.indexOf('\r\n\r\n');
        if (end === -1) {
          carry = text;
          return;
        }
        headerDone = true;
        connected++;
        text = text.slice(end + 4);
      }
      // Chunked transfer framing is left in place: event blocks still end with a blank line.
      const last = text.lastIndexOf('\n\n');
      const whole = last === -1 ? '' : text.slice(0, last + 2);
      carry = text.slice(whole.length);
      let n = 0;
      for (let j = whole.indexOf('data: '); j !== -1; j = whole.indexOf('data: ', j + 6)) n++;
      counts[i]! += n;
      if (sample) {
        T.lastIndex = 0;
        for (let m = T.exec(whole); m; m = T.exec(whole)) latenciesUs.push(at - Number(m[1]));
      }
    });
    socket.on('error', () => undefined);
  }
  while (connected < clients) await sleep(20);
  send({ type: 'connected' });
  const until = Date.now() + 120_000;
  while (counts.some((c) => c < events) && Date.now() < until) await sleep(50);
  // A little longer, so a duplicate would show as a count above `events`.
  await sleep(200);
  send({ type: 'received', counts, latenciesUs });
  for (const s of sockets) s.destroy();
  process.exit(0);
}

// ---- the orchestrator ---------------------------------------------------------------------------

class Child {
  readonly proc: ChildProcess;
  private readonly inbox: FromChild[] = [];
  private waiters: { type: string; resolve: (m: FromChild) => void }[] = [];

  constructor(args: string[]) {
    this.proc = fork(__filename, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: FromChild) => {
      const w = this.waiters.find((x) => x.type === m.type);
      if (w) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(m);
      } else this.inbox.push(m);
    });
  }

  next<T extends FromChild['type']>(type: T): Promise<Extract<FromChild, { type: T }>> {
    const at = this.inbox.findIndex((m) => m.type === type);
    if (at !== -1) return Promise.resolve(this.inbox.splice(at, 1)[0] as Extract<FromChild, { type: T }>);
    return new Promise((resolve, reject) => {
      this.waiters.push({ type, resolve: resolve as (m: FromChild) => void });
      this.proc.once('exit', (code) => reject(new Error(`bench child exited (${code}) while waiting for ${type}`)));
    });
  }

  send(m: ToChild): void {
    this.proc.send(m);
  }

  async cpu(): Promise<number> {
    this.send({ type: 'cpu' });
    return (await this.next('cpu')).us;
  }
}

/**
 * One Redis command over a plain socket (RESP), for the orchestrator's INFO and cleanup: the bench
 * package does not depend on a Redis client; the hubs use @ssehub/redis's.
 */
function redisCommand(url: string, args: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port || 6379), hostname);
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    socket.on('data', (d: string) => {
      reply += d;
      // A bulk string reply is complete when its announced length has arrived; other replies are one line.
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if (bulk ? Buffer.byteLength(reply) >= bulk[0].length + Number(bulk[1]) + 2 : reply.endsWith('\r\n')) {
        socket.end();
        if (reply.startsWith('-')) reject(new Error(reply.trim()));
        else resolve(bulk ? reply.slice(bulk[0].length, -2) : reply.trim());
      }
    });
    socket.on('error', reject);
  });
}

/** redis-server's own CPU time (user + sys) in µs, from INFO. */
async function redisCpuUs(url: string): Promise<number> {
  const info = await redisCommand(url, ['INFO', 'cpu']);
  const get = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1]);
  return Math.round((get('used_cpu_user') + get('used_cpu_sys')) * 1e6);
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
}

interface CaseResult {
  name: string;
  description: string;
  clients: number;
  events: number;
  deliveries: number;
  missing: number;
  extra: number;
  latencyUs: { p50: number; p90: number; p99: number; max: number; samples: number };
  cpuUs: { hubs: number; redis: number };
  cpuPerEventUs: { hubs: number; redis: number };
  cpuPerDeliveryUs: { hubs: number; withRedis: number };
}

async function runCase(name: string, description: string, o: Options, layout: 'single' | 'local' | 'cross'): Promise<CaseResult> {
  const prefix = `ssehub-bench-${process.pid}-${name}`;
  const useBp = layout !== 'single';
  const a = new Child(['--role', 'server', String(useBp), prefix, o.redis]);
  const b = layout === 'cross' ? new Child(['--role', 'server', 'true', prefix, o.redis]) : undefined;
  const { port: portA } = await a.next('ready');
  const portB = b ? (await b.next('ready')).port : undefined;
  const load = new Child(['--role', 'clients', String(portB ?? portA), String(o.clients), String(o.samples), String(o.events)]);
  await load.next('connected');
  await sleep(300);
  const hubs = [a, ...(b ? [b] : [])];
  const cpu0 = await Promise.all(hubs.map((h) => h.cpu()));
  const redis0 = useBp ? await redisCpuUs(o.redis) : 0;
  a.send({ type: 'publish', events: o.events, rate: o.rate });
  await a.next('published');
  const { counts, latenciesUs } = await load.next('received');
  const cpu1 = await Promise.all(hubs.map((h) => h.cpu()));
  const redis1 = useBp ? await redisCpuUs(o.redis) : 0;
  for (const h of hubs) h.send({ type: 'stop' });
  await Promise.all(hubs.map((h) => new Promise((r) => (h.proc.exitCode !== null ? r(null) : h.proc.once('exit', r)))));
  if (useBp) await redisCommand(o.redis, ['DEL', ...['log', 'index', 'pos', 'epoch'].map((k) => `{${prefix}}:${k}`)]);
  const hubCpu = cpu1.reduce((s, v, i) => s + v - cpu0[i]!, 0);
  const redisCpu = redis1 - redis0;
  const deliveries = counts.reduce((s, c) => s + c, 0);
  const sorted = latenciesUs.sort((x, y) => x - y);
  const expected = o.clients * o.events;
  return {
    name,
    description,
    clients: o.clients,
    events: o.events,
    deliveries,
    missing: counts.reduce((s, c) => s + Math.max(0, o.events - c), 0),
    extra: counts.reduce((s, c) => s + Math.max(0, c - o.events), 0),
    latencyUs: { p50: pct(sorted, 50), p90: pct(sorted, 90), p99: pct(sorted, 99), max: sorted[sorted.length - 1] ?? NaN, samples: sorted.length },
    cpuUs: { hubs: hubCpu, redis: redisCpu },
    cpuPerEventUs: { hubs: round(hubCpu / o.events), redis: round(redisCpu / o.events) },
    cpuPerDeliveryUs: { hubs: round(hubCpu / expected, 3), withRedis: round((hubCpu + redisCpu) / expected, 3) },
  };
}

/** Each number is the median over the rounds (missing and extra: the sum, since any is a failure). */
function medianOf(rs: CaseResult[]): CaseResult {
  const med = (f: (r: CaseResult) => number) => {
    const v = rs.map(f).sort((x, y) => x - y);
    return v[Math.floor(v.length / 2)]!;
  };
  const r = rs[0]!;
  return {
    ...r,
    deliveries: med((x) => x.deliveries),
    missing: rs.reduce((s, x) => s + x.missing, 0),
    extra: rs.reduce((s, x) => s + x.extra, 0),
    latencyUs: {
      p50: med((x) => x.latencyUs.p50),
      p90: med((x) => x.latencyUs.p90),
      p99: med((x) => x.latencyUs.p99),
      max: med((x) => x.latencyUs.max),
      samples: med((x) => x.latencyUs.samples),
    },
    cpuUs: { hubs: med((x) => x.cpuUs.hubs), redis: med((x) => x.cpuUs.redis) },
    cpuPerEventUs: { hubs: med((x) => x.cpuPerEventUs.hubs), redis: med((x) => x.cpuPerEventUs.redis) },
    cpuPerDeliveryUs: { hubs: med((x) => x.cpuPerDeliveryUs.hubs), withRedis: med((x) => x.cpuPerDeliveryUs.withRedis) },
  };
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function markdown(results: CaseResult[], o: Options, meta: Record<string, string>): string {
  const ms = (us: number) => (us / 1000).toFixed(2);
  const single = results.find((r) => r.name === 'single');
  const lines = [
    '# Cross-instance benchmark (@ssehub/redis)',
    '',
    `Run with \`pnpm bench:redis\` on ${meta.date}: ${meta.cpus}, Node ${meta.node}, ${meta.redis}.`,
    `${o.clients} clients (raw sockets, one process), ${o.events} broadcasts of ~100 bytes at ${o.rate}/s;`,
    'each hub instance is its own process; latency is from `broadcast()` to the client reading the event',
    `(${o.samples} sample clients), CPU is user+system time of the hub processes (and of redis-server) during the run.`,
    `Each figure is the median of ${o.rounds} rounds that interleave the cases (every round is in cross-instance.json).`,
    '',
    '| case | what | latency p50 / p90 / p99 / max (ms) | hub CPU per event (µs) | redis CPU per event (µs) | CPU per delivery, hubs / with redis (µs) | missing / extra |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const l = r.latencyUs;
    lines.push(
      `| ${r.name} | ${r.description} | ${ms(l.p50)} / ${ms(l.p90)} / ${ms(l.p99)} / ${ms(l.max)} | ${r.cpuPerEventUs.hubs} | ${r.cpuPerEventUs.redis} | ${r.cpuPerDeliveryUs.hubs} / ${r.cpuPerDeliveryUs.withRedis} | ${r.missing} / ${r.extra} |`,
    );
  }
  if (single) {
    lines.push('', 'Against the single-instance hub:', '');
    for (const r of results) {
      if (r === single) continue;
      lines.push(
        `- ${r.name}: latency p50 +${ms(r.latencyUs.p50 - single.latencyUs.p50)} ms, p99 +${ms(r.latencyUs.p99 - single.latencyUs.p99)} ms; ` +
          `CPU per delivery ×${(r.cpuPerDeliveryUs.withRedis / single.cpuPerDeliveryUs.hubs).toFixed(2)} counting redis-server ` +
          `(×${(r.cpuPerDeliveryUs.hubs / single.cpuPerDeliveryUs.hubs).toFixed(2)} for the hub processes alone).`,
      );
    }
  }
  lines.push('', 'The machine was shared with other work while this ran: compare the cases of one run, not runs of different days.', '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const role = arg('role', '');
  if (role === 'server') {
    const [backplane, prefix, url] = process.argv.slice(process.argv.indexOf('--role') + 2);
    return serverRole(backplane === 'true', prefix!, url!);
  }
  if (role === 'clients') {
    const [port, clients, samples, events] = process.argv.slice(process.argv.indexOf('--role') + 2).map(Number);
    return clientsRole(port!, clients!, samples!, events!);
  }
  const o: Options = {
    clients: Number(arg('clients', '200')),
    events: Number(arg('events', '1500')),
    rate: Number(arg('rate', '200')),
    samples: Number(arg('samples', '20')),
    rounds: Number(arg('rounds', '3')),
    redis: arg('redis', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'),
    out: arg('out', path.join(__dirname, 'results')),
  };
  const version = /redis_version:(\S+)/.exec(await redisCommand(o.redis, ['INFO', 'server']))?.[1] ?? '?';
  const runs = new Map<string, CaseResult[]>();
  const cases = [
    ['single', 'one hub, no backplane', 'single'],
    ['backplane-local', 'one hub with the backplane, clients where it publishes', 'local'],
    ['cross', 'broadcasts on instance A, clients on instance B', 'cross'],
  ] as const;
  // Rounds interleave the cases, so a burst of load from elsewhere on the machine hits all of them alike.
  for (let round = 1; round <= o.rounds; round++) {
    for (const [name, description, layout] of cases) {
      process.stdout.write(`round ${round} ${name}... `);
      const r = await runCase(name, description, o, layout);
      runs.set(name, [...(runs.get(name) ?? []), r]);
      console.log(`p50 ${(r.latencyUs.p50 / 1000).toFixed(2)} ms, p99 ${(r.latencyUs.p99 / 1000).toFixed(2)} ms, hub CPU ${r.cpuPerEventUs.hubs} µs/event, missing ${r.missing}, extra ${r.extra}`);
    }
  }
  const results = [...runs.values()].map(medianOf);
  const meta = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`,
    node: process.versions.node,
    redis: `redis-server ${version} on 127.0.0.1`,
  };
  mkdirSync(o.out, { recursive: true });
  const { out: _out, ...options } = o;
  const all = Object.fromEntries(runs);
  writeFileSync(path.join(o.out, 'cross-instance.json'), JSON.stringify({ meta, options, results, runs: all }, null, 2) + '\n');
  writeFileSync(path.join(o.out, 'cross-instance.md'), markdown(results, o, meta));
  console.log(`wrote ${path.join(o.out, 'cross-instance.md')}`);
  if ([...runs.values()].flat().some((r) => r.missing || r.extra)) process.exitCode = 1;
}

void main();
