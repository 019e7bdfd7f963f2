import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ServerKind } from './protocol';
import type { Scenario } from './scenarios';

export interface CaseResult {
  server: ServerKind;
  connected: number;
  failedConnects: number;
  /** Connections that kept reading (all but the stalled ones). */
  readers: number;
  /** Readers that got every event. */
  complete: number;
  delivered: number;
  expected: number;
  cpuUsPerDelivery: number;
  deliveriesPerSec: number;
  latencyUs: { p50: number; p99: number; max: number; n: number };
  /** RSS per idle connection: the RSS slope over the second half of the connections. */
  idleBytesPerConn: number;
  /** V8 heap per idle connection, over the same half. */
  idleHeapPerConn: number;
  baseRss: number;
  peakRss: number;
  evicted: number;
  /** CPU per delivery of each repeat, when the scenario ran more than once. */
  repeats?: number[];
}

export interface RunResult {
  date: string;
  command: string;
  machine: { cpus: number; model: string; node: string; load: number[] };
  scenarios: (Scenario & { results: CaseResult[] })[];
  targets?: Target[];
}

export interface Target {
  name: string;
  /** The measured ratio and the bound it must stay at or under (or above, for `atLeast`). */
  ratio: number;
  bound: number;
  atLeast?: boolean;
  met: boolean;
  detail: string;
  /** Shown for context only: not one of the targets. */
  context?: boolean;
}

/** The (d) bound on peak RSS: the idle server plus 2 MiB per stalled client (twice maxBufferedBytes). */
export const D_RSS_PER_STALLED = 2 * 1024 * 1024;

function find(run: RunResult, id: string, server: ServerKind): CaseResult | undefined {
  return run.scenarios.find((s) => s.id === id)?.results.find((r) => r.server === server);
}

/** Evaluates the targets, each as a ratio within this one run. */
export function evaluate(run: RunResult): Target[] {
  const out: Target[] = [];
  const add = (name: string, ratio: number, bound: number, detail: string, atLeast = false, context = false) => {
    if (!Number.isFinite(ratio)) return;
    out.push({ name, ratio, bound, atLeast, met: atLeast ? ratio >= bound : ratio <= bound, detail, context });
  };
  const a = (s: ServerKind) => find(run, 'a', s);
  const ex = a('ssehub-express');
  if (ex) {
    const raw = a('raw-socket');
    const better = a('better-sse');
    if (raw) add('(a) Express CPU/delivery vs raw socket', ex.cpuUsPerDelivery / raw.cpuUsPerDelivery, 1.15, 'at most 1.15x');
    const rawHttp = a('raw-http-socket');
    if (rawHttp) {
      add(
        '(a) Express CPU/delivery vs raw writes on node:http sockets (context)',
        ex.cpuUsPerDelivery / rawHttp.cpuUsPerDelivery,
        1.15,
        'not an issue target: the floor of any node:http server',
        false,
        true,
      );
    }
    if (better) add('(a) better-sse CPU/delivery vs Express', better.cpuUsPerDelivery / ex.cpuUsPerDelivery, 3, 'at least 3x', true);
    const koa = a('ssehub-koa');
    const hono = a('ssehub-hono');
    if (koa) add('(a) Koa CPU/delivery vs Express', koa.cpuUsPerDelivery / ex.cpuUsPerDelivery, 1.2, 'at most 1.2x');
    if (hono) add('(a) Hono CPU/delivery vs Express', hono.cpuUsPerDelivery / ex.cpuUsPerDelivery, 1.5, 'at most 1.5x');
    const fastify = a('ssehub-fastify');
    if (fastify) add('(a) Fastify CPU/delivery vs Express', fastify.cpuUsPerDelivery / ex.cpuUsPerDelivery, 1.1, 'at most 1.1x');
    const streamSse = a('hono-streamsse');
    if (hono && streamSse) {
      add("(a) Hono CPU/delivery vs Hono's own streamSSE", hono.cpuUsPerDelivery / streamSse.cpuUsPerDelivery, 1, 'below 1x');
    }
    const fetchBun = a('ssehub-fetch-bun');
    if (fetchBun && streamSse) {
      add(
        "(a) Fetch under Bun CPU/delivery vs Hono's own streamSSE (context)",
        fetchBun.cpuUsPerDelivery / streamSse.cpuUsPerDelivery,
        1,
        'not an issue target: another runtime, and a Fetch handler has no framework helper of its own',
        false,
        true,
      );
    }
    const node = a('node-http');
    if (node) {
      add('(a) Express idle memory/connection vs node:http', ex.idleBytesPerConn / node.idleBytesPerConn, 1.2, 'at most 1.2x');
      if (koa) add('(a) Koa idle memory/connection vs node:http', koa.idleBytesPerConn / node.idleBytesPerConn, 1.2, 'at most 1.2x');
      if (hono) add('(a) Hono idle memory/connection vs node:http', hono.idleBytesPerConn / node.idleBytesPerConn, 1.2, 'at most 1.2x');
    }
  }
  // Each ssehub adapter against its framework's own SSE helper, on the same framework.
  const hubFastify = a('ssehub-fastify');
  const ownFastify = a('fastify-sse');
  if (hubFastify && ownFastify) {
    add('(a) Fastify CPU/delivery vs @fastify/sse', hubFastify.cpuUsPerDelivery / ownFastify.cpuUsPerDelivery, 1, 'below 1x (cheaper per delivery)');
  }
  const node = a('node-http');
  if (hubFastify && node) {
    add('(a) Fastify idle memory/connection vs node:http (context)', hubFastify.idleBytesPerConn / node.idleBytesPerConn, 1.2, 'not an issue target: memory per stream', false, true);
  }
  if (ownFastify && node) {
    add('(a) @fastify/sse idle memory/connection vs node:http (context)', ownFastify.idleBytesPerConn / node.idleBytesPerConn, 1.2, 'not an issue target: memory per stream', false, true);
  }
  const b = (s: ServerKind) => find(run, 'b', s);
  const bex = b('ssehub-express');
  const bnode = b('node-http');
  if (bex && bnode) add('(b) Express deliveries/s vs node:http', bex.deliveriesPerSec / bnode.deliveriesPerSec, 2, 'at least 2x', true);
  const c = (s: ServerKind) => find(run, 'c', s);
  const cex = c('ssehub-express');
  const cnode = c('node-http');
  if (cex && cnode) {
    add('(c) Express p99 latency vs node:http', cex.latencyUs.p99 / cnode.latencyUs.p99, 1.2, 'at most 1.2x');
    add('(c) Express idle memory/connection vs node:http', cex.idleBytesPerConn / cnode.idleBytesPerConn, 1.2, 'at most 1.2x');
    const chono = c('ssehub-hono');
    if (chono) add('(c) Hono idle memory/connection vs node:http', chono.idleBytesPerConn / cnode.idleBytesPerConn, 1.2, 'at most 1.2x');
  }
  const d = find(run, 'd', 'ssehub-express');
  const dsc = run.scenarios.find((s) => s.id === 'd');
  if (d && dsc && ex) {
    const bound = d.baseRss + dsc.stalled * D_RSS_PER_STALLED;
    add(
      '(d) Express peak RSS vs bound',
      d.peakRss / bound,
      1,
      `peak ${mib(d.peakRss)} vs bound ${mib(bound)} (idle ${mib(d.baseRss)} + ${dsc.stalled} x 2 MiB); ` +
        `${d.evicted}/${dsc.stalled} stalled evicted`,
    );
    add(
      '(d) Express fast clients p99 vs (a)',
      d.latencyUs.p99 / ex.latencyUs.p99,
      1.5,
      'at most 1.5x (but (d) sends 4 KiB events, (a) 128 bytes)',
    );
    const d0 = find(run, 'd0', 'ssehub-express');
    if (d0) add('(d) Express fast clients p99 vs d0 (same events, none stalled)', d.latencyUs.p99 / d0.latencyUs.p99, 1.5, 'at most 1.5x');
  }
  return out;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MiB`;
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** The Markdown tables: one per scenario, then the targets. */
export function markdown(run: RunResult): string {
  const lines: string[] = [];
  lines.push(
    `Run ${run.date} with \`${run.command}\` on ${run.machine.cpus} x ${run.machine.model}, Node ${run.machine.node}` +
      // A shared machine: the load at the start says how much else was running (ratios within the run still hold).
      (run.machine.load ? `, load average ${run.machine.load.map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min) at the start.` : '.'),
  );
  lines.push('');
  for (const sc of run.scenarios) {
    lines.push(`**(${sc.id}) ${sc.title}**`);
    lines.push('');
    lines.push('| server | CPU µs/delivery | deliveries/s | p50 ms | p99 ms | max ms | idle RSS KiB/conn | idle heap KiB/conn | peak RSS MiB | complete | evicted |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of sc.results) {
      lines.push(
        `| ${r.server} | ${fmt(r.cpuUsPerDelivery)} | ${Math.round(r.deliveriesPerSec).toLocaleString('en-US')} | ` +
          `${fmt(r.latencyUs.p50 / 1000, 1)} | ${fmt(r.latencyUs.p99 / 1000, 1)} | ${fmt(r.latencyUs.max / 1000, 1)} | ` +
          `${fmt(r.idleBytesPerConn / 1024, 1)} | ${fmt(r.idleHeapPerConn / 1024, 1)} | ${fmt(r.peakRss / 1048576, 0)} | ` +
          `${r.complete}/${r.readers} | ${r.evicted} |`,
      );
    }
    lines.push('');
  }
  if (run.targets?.length) {
    lines.push('**Targets** (ratios within this run)');
    lines.push('');
    lines.push('| target | ratio | bound | met |');
    lines.push('| --- | ---: | --- | --- |');
    for (const t of run.targets) {
      const by = t.atLeast ? t.bound / t.ratio : t.ratio / t.bound;
      const verdict = t.context ? 'context' : t.met ? 'met' : `missed by ${fmt(by)}x`;
      lines.push(`| ${t.name} | ${fmt(t.ratio)} | ${t.detail} | ${verdict} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

const COLORS: Record<ServerKind, string> = {
  'ssehub-express': '#1f77b4',
  'ssehub-koa': '#4c9be0',
  'ssehub-hono': '#8cc2f0',
  'ssehub-fastify': '#bcbd22',
  'ssehub-fetch-bun': '#17becf',
  'hono-streamsse': '#ff7f0e',
  'better-sse': '#d62728',
  'fastify-sse': '#e377c2',
  'node-http': '#7f7f7f',
  'raw-socket': '#2ca02c',
  'raw-http-socket': '#98df8a',
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

/** A horizontal bar chart of the main figures: (a) CPU per delivery, (b) deliveries/s, (c) p99 latency, (d) peak RSS. */
export function svg(run: RunResult): string {
  type Panel = { title: string; unit: string; digits: number; rows: { server: ServerKind; value: number }[] };
  const panels: Panel[] = [];
  const sc = (id: string) => run.scenarios.find((x) => x.id === id);
  const panel = (id: string, title: string, unit: string, digits: number, value: (r: CaseResult) => number) => {
    const s = sc(id);
    if (s) panels.push({ title: `(${id}) ${title}`, unit, digits, rows: s.results.map((r) => ({ server: r.server, value: value(r) })) });
  };
  panel('a', 'server CPU per delivery, lower is better', 'µs', 2, (r) => r.cpuUsPerDelivery);
  panel('b', 'deliveries per second with bursts of 10, higher is better', '/s', 0, (r) => r.deliveriesPerSec);
  panel('c', 'p99 latency with 10,000 clients, lower is better', 'ms', 1, (r) => r.latencyUs.p99 / 1000);
  panel('d', 'peak RSS with 100 stalled clients, lower is better', 'MiB', 0, (r) => r.peakRss / 1048576);
  const width = 720;
  const barH = 16;
  const labelW = 130;
  const plotW = width - labelW - 90;
  let y = 10;
  const parts: string[] = [];
  for (const p of panels) {
    parts.push(`<text x="10" y="${y + 14}" font-weight="bold">${esc(p.title)}</text>`);
    y += 24;
    const max = Math.max(...p.rows.map((r) => (Number.isFinite(r.value) ? r.value : 0)), 1e-9);
    for (const r of p.rows) {
      const w = Number.isFinite(r.value) ? Math.max(1, (r.value / max) * plotW) : 0;
      parts.push(`<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${r.server}</text>`);
      parts.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[r.server]}"/>`);
      const shown = p.digits === 0 ? Math.round(r.value).toLocaleString('en-US') : fmt(r.value, p.digits);
      parts.push(`<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 12}">${shown} ${p.unit}</text>`);
      y += barH + 4;
    }
    y += 12;
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" ` +
    `font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n` +
    parts.join('\n') +
    '\n</svg>\n'
  );
}

/** Writes results.json, results.md and chart.svg into `dir`. */
export function writeResults(run: RunResult, dir: string): void {
  run.targets = evaluate(run);
  writeFileSync(path.join(dir, 'results.json'), JSON.stringify(run, null, 2) + '\n');
  writeFileSync(path.join(dir, 'results.md'), markdown(run));
  writeFileSync(path.join(dir, 'chart.svg'), svg(run));
  process.stdout.write('\n' + markdown(run) + '\n');
}
