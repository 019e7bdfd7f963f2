/**
 * One server under test, in its own process: `node --import tsx server.ts <kind> [heartbeat ms]`.
 * It listens on 127.0.0.1 and an ephemeral port, and runs its own broadcast loop when the
 * orchestrator asks over IPC, so publishing costs nothing but the server's own work.
 * Heartbeats are off unless a heartbeat period is given (the capacity scenario's servers send them).
 */
import http from 'node:http';
import net from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import { Hono } from 'hono';
import { serve as serveHono } from '@hono/node-server';
import Fastify from 'fastify';
import fastifySse from '@fastify/sse';
import { createChannel, createSession } from 'better-sse';
import { createHub } from '@ssehub/core';
import { encodeComment } from '@ssehub/core/adapter';
import { sse as expressSse } from '@ssehub/express';
import { sse as koaSse } from '@ssehub/koa';
import { sse as honoSse } from '@ssehub/hono';
import { sse as fastifyHubSse } from '@ssehub/fastify';
import { eventData, eventId, plainEvent, PLAIN_OVERHEAD } from './payload';
import { fdLimit, openFds } from './fds';
import { HEARTBEAT_SERVERS, type FromServer, type LoopSpec, type ServerKind, type ToServer } from './protocol';

interface UnderTest {
  server: net.Server;
  /** Publishes event `n`, `size` bytes on the SSE wire, to every connection. */
  publish(n: number, size: number): void;
  clients(): number;
  evicted(): number;
}

const SSE_HEAD = { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' };

/** What ssehub sends as a heartbeat (a lone `:` line): the other servers send the same bytes. */
const HEARTBEAT = Buffer.from(encodeComment());

function ssehub(kind: 'express' | 'koa' | 'hono' | 'fastify', heartbeat: number): UnderTest {
  // Heartbeats off (0) in the fan-out scenarios: their load generator counts every blank line as an event.
  const hub = createHub({ heartbeat });
  let evicted = 0;
  hub.on('evict', () => evicted++);
  let server: net.Server;
  if (kind === 'express') {
    const app = express();
    app.get('/events', expressSse(hub));
    server = http.createServer(app);
  } else if (kind === 'koa') {
    const app = new Koa();
    app.use(koaSse(hub));
    server = http.createServer(app.callback());
  } else if (kind === 'hono') {
    const app = new Hono();
    app.get('/events', honoSse(hub));
    server = serveHono({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as net.Server;
  } else {
    const app = Fastify();
    app.get('/events', fastifyHubSse(hub));
    server = listenFastify(app);
  }
  return {
    server,
    publish: (n, size) => void hub.broadcast({ data: eventData(n, PLAIN_OVERHEAD, size) }),
    clients: () => hub.size,
    evicted: () => evicted,
  };
}

function betterSse(heartbeat: number): UnderTest {
  const channel = createChannel();
  const app = express();
  app.get('/events', async (req, res) => {
    // The data is already text: no JSON serialisation, so it sends the same bytes as the others.
    const session = await createSession(req, res, {
      // better-sse keeps one keep-alive timer per session, writing its own comment.
      keepAlive: heartbeat > 0 ? heartbeat : null,
      retry: null,
      serializer: (d) => String(d),
    });
    channel.register(session);
  });
  // better-sse writes `event: message\nid: ...\ndata: ...\n\n`.
  const overhead = PLAIN_OVERHEAD + 'event: message\n'.length;
  return {
    server: http.createServer(app),
    publish: (n, size) => void channel.broadcast(eventData(n, overhead, size), 'message', { eventId: eventId(n) }),
    clients: () => channel.sessionCount,
    evicted: () => 0,
  };
}

/** Starts a Fastify app on 127.0.0.1 and an ephemeral port: its server emits 'listening'. */
function listenFastify(app: ReturnType<typeof Fastify>): net.Server {
  app.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }).catch((err: unknown) => {
    process.stderr.write(`bench server: ${String(err)}\n`);
    process.exit(1);
  });
  return app.server;
}

/**
 * Fastify's own SSE plugin, `@fastify/sse`, as its README shows it for a long-lived stream: a route
 * with `sse` set, `reply.sse.keepAlive()`, and `reply.sse.send()` to each open stream per event.
 */
function fastifySseServer(): UnderTest {
  const app = Fastify();
  const streams = new Set<{ send(message: { id: string; data: string }): Promise<void> }>();
  void app.register(fastifySse, { heartbeatInterval: 0 }).after(() => {
    // The data is already text: no JSON serialisation, so it sends the same bytes as the others.
    app.get('/events', { sse: { kind: 'only', heartbeat: false, serializer: (d: unknown) => String(d) } }, async (_request, reply) => {
      const stream = reply.sse;
      stream.keepAlive();
      // The headers at once, as every other server sends them before the first event: sendHeaders()
      // only sets them (Node writes them with the first body bytes), so they are flushed too.
      stream.sendHeaders();
      reply.raw.flushHeaders();
      streams.add(stream);
      stream.onClose(() => streams.delete(stream));
    });
  });
  return {
    server: listenFastify(app),
    publish: (n, size) => {
      const message = { id: eventId(n), data: eventData(n, PLAIN_OVERHEAD, size) };
      for (const s of streams) void s.send(message);
    },
    clients: () => streams.size,
    evicted: () => 0,
  };
}

function nodeHttp(heartbeat: number): UnderTest {
  const streams = new Set<http.ServerResponse>();
  // The minimal heartbeat: one timer, the same bytes as ssehub's to every stream.
  if (heartbeat > 0) {
    setInterval(() => {
      for (const res of streams) res.write(HEARTBEAT);
    }, heartbeat).unref();
  }
  const server = http.createServer((req, res) => {
    res.writeHead(200, SSE_HEAD);
    res.flushHeaders();
    streams.add(res);
    res.on('close', () => streams.delete(res));
  });
  return {
    server,
    publish: (n, size) => {
      const buf = Buffer.from(plainEvent(n, size));
      for (const res of streams) res.write(buf);
    },
    clients: () => streams.size,
    evicted: () => 0,
  };
}

function rawSocket(): UnderTest {
  const sockets = new Set<net.Socket>();
  const head = Buffer.from(
    'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n' +
      'Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n',
  );
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (!seen.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.write(head);
      sockets.add(socket);
    };
    socket.on('data', onData);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  return {
    server,
    publish: (n, size) => {
      const event = Buffer.from(plainEvent(n, size));
      // One HTTP/1.1 chunk, framed once, the same bytes to every socket.
      const framed = Buffer.concat([Buffer.from(`${event.length.toString(16)}\r\n`), event, Buffer.from('\r\n')]);
      for (const s of sockets) s.write(framed);
    },
    clients: () => sockets.size,
    evicted: () => 0,
  };
}

/** Pre-framed chunks written straight to the sockets of a node:http server, after its own headers. */
function rawHttpSocket(): UnderTest {
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(200, SSE_HEAD);
    res.flushHeaders();
    const socket = res.socket!;
    sockets.add(socket);
    res.on('close', () => sockets.delete(socket));
  });
  return {
    server,
    publish: (n, size) => {
      const event = Buffer.from(plainEvent(n, size));
      const framed = Buffer.concat([Buffer.from(`${event.length.toString(16)}\r\n`), event, Buffer.from('\r\n')]);
      for (const s of sockets) s.write(framed);
    },
    clients: () => sockets.size,
    evicted: () => 0,
  };
}

function create(kind: ServerKind, heartbeat: number): UnderTest {
  if (heartbeat > 0 && !HEARTBEAT_SERVERS.includes(kind)) throw new Error(`bench: ${kind} sends no heartbeats`);
  switch (kind) {
    case 'ssehub-express':
      return ssehub('express', heartbeat);
    case 'ssehub-koa':
      return ssehub('koa', heartbeat);
    case 'ssehub-hono':
      return ssehub('hono', heartbeat);
    case 'ssehub-fastify':
      return ssehub('fastify', heartbeat);
    case 'fastify-sse':
      return fastifySseServer();
    case 'better-sse':
      return betterSse(heartbeat);
    case 'node-http':
      return nodeHttp(heartbeat);
    case 'raw-socket':
      return rawSocket();
    case 'raw-http-socket':
      return rawHttpSocket();
  }
}

/** `f()`, or null when it fails (EMFILE: no descriptor left to open a file under /proc). */
function orNull(f: () => number): number | null {
  try {
    return f();
  } catch {
    return null;
  }
}

function send(msg: FromServer): void {
  process.send!(msg);
}

async function runLoop(ut: UnderTest, loop: LoopSpec): Promise<void> {
  const start = process.hrtime.bigint();
  send({ type: 'started', startNs: String(start) });
  const periodNs = loop.rate > 0 ? 1e9 / loop.rate : 0;
  let n = 0;
  while (n < loop.events) {
    for (let i = 0; i < loop.burst && n < loop.events; i++) ut.publish(++n, loop.size);
    if (periodNs > 0) {
      // Paced from the start time, so timer lateness does not accumulate.
      const due = Number(start) + n * periodNs;
      const wait = (due - Number(process.hrtime.bigint())) / 1e6;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    } else {
      await nextTurn();
    }
  }
  send({ type: 'published', endNs: String(process.hrtime.bigint()) });
}

function main(): void {
  const kind = process.argv[2] as ServerKind;
  const ut = create(kind, Number(process.argv[3] ?? 0));
  let cpuStart: NodeJS.CpuUsage | undefined;
  let acceptErrors = 0;
  // Main-thread GC pauses so far: part of the CPU an idle window measures, and its noisiest part.
  let gcMs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  }).observe({ entryTypes: ['gc'] });
  ut.server.on('error', (err) => {
    // Once listening, an error is a failed accept (EMFILE at the descriptor limit): count it, go on.
    if (ut.server.listening) {
      if (acceptErrors++ === 0) process.stderr.write(`bench server ${kind}: ${String(err)}\n`);
      return;
    }
    process.stderr.write(`bench server ${kind}: ${String(err)}\n`);
    process.exit(1);
  });
  const ready = () =>
    send({ type: 'ready', port: (ut.server.address() as AddressInfo).port, fds: openFds(), fdLimit: fdLimit() });
  if (ut.server.listening) ready();
  else if (kind === 'ssehub-hono' || kind === 'ssehub-fastify' || kind === 'fastify-sse') ut.server.once('listening', ready);
  else ut.server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, ready);

  process.on('message', (msg: ToServer) => {
    if (msg.type === 'mem') {
      global.gc?.();
      // The heap figures come from V8 itself: reading RSS and the descriptors opens a file under
      // /proc, which fails (EMFILE) once the streams have taken every descriptor the limit allows.
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
      send({ type: 'cpu', cpuUs: cpu.user + cpu.system, ns: String(process.hrtime.bigint()), gcMs });
    } else if (msg.type === 'run') {
      cpuStart = process.cpuUsage();
      void runLoop(ut, msg.loop);
    } else if (msg.type === 'stats') {
      const cpu = process.cpuUsage(cpuStart);
      send({
        type: 'stats',
        cpuUs: cpu.user + cpu.system,
        maxRss: process.resourceUsage().maxRSS * 1024,
        rss: orNull(() => process.memoryUsage.rss()),
        evicted: ut.evicted(),
        clients: ut.clients(),
        acceptErrors,
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

main();
