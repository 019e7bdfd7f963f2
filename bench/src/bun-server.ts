/**
 * The `ssehub-fetch-bun` server under test: `@ssehub/fetch`'s `sse(hub)` under the real
 * `Bun.serve({ fetch })`, run by Bun itself (`bun run bun-server.ts [heartbeat ms]`). server.ts, the
 * Node process the orchestrator forks for every server, starts it and relays the orchestrator's
 * messages, one JSON object a line: requests on this process's stdin, answers on its stdout. Every
 * figure (CPU, RSS, heap) is this Bun process's own, measured here by control.ts as the Node servers
 * measure theirs; the relay's own work is outside it.
 */
import { createInterface } from 'node:readline';
import { createHub } from '@ssehub/core';
import { sse } from '@ssehub/fetch';
import { control } from './control';
import { fdLimit, openFds } from './fds';
import { alignClock, eventData, PLAIN_OVERHEAD } from './payload';
import type { ClockMessage, FromServer, ToServer } from './protocol';

declare const Bun: {
  serve(options: {
    fetch: (request: Request) => Promise<Response> | Response;
    port: number;
    hostname: string;
    idleTimeout: number;
  }): { port: number };
  gc(force: boolean): void;
};

const hub = createHub({ heartbeat: Number(process.argv[2] ?? 0) });
let evicted = 0;
hub.on('evict', () => evicted++);
const stream = sse(hub);
const notFound = () => new Response(null, { status: 404 });
// idleTimeout 0, as the README mounts it: Bun's default 10 s would close streams quiet that long.
const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  idleTimeout: 0,
  fetch: (request) => (request.url.endsWith('/events') ? stream(request) : notFound()),
});

const send = (msg: FromServer) => void process.stdout.write(JSON.stringify(msg) + '\n');
let gcMs = 0;
try {
  const { PerformanceObserver } = require('node:perf_hooks') as typeof import('node:perf_hooks');
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  }).observe({ entryTypes: ['gc'] });
} catch {
  // No GC entries on this runtime: pauses count as 0.
}
const handle = control(
  {
    publish: (n, size) => void hub.broadcast({ data: eventData(n, PLAIN_OVERHEAD, size) }),
    clients: () => hub.size,
    evicted: () => evicted,
  },
  send,
  { gc: () => Bun.gc(true), gcMs: () => gcMs, acceptErrors: () => 0 },
);
createInterface({ input: process.stdin })
  .on('line', (line) => {
    const msg = JSON.parse(line) as ToServer | ClockMessage;
    // The relay's clock handshake, before it passes `ready` on (see server.ts).
    if (msg.type === 'ping') process.stdout.write(JSON.stringify({ type: 'pong', ns: String(process.hrtime.bigint()) }) + '\n');
    else if (msg.type === 'offset') alignClock(BigInt(msg.ns));
    else if (msg.type !== 'pong') handle(msg);
  })
  // The relay is gone: so is the run.
  .on('close', () => process.exit(0));
send({ type: 'ready', port: server.port, fds: openFds(), fdLimit: fdLimit() });
