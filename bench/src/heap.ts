/**
 * Where a connection's memory goes: V8 heap per open stream for a bare server holding the response,
 * the same framework with nothing but headers sent, and the framework with ssehub, so ssehub's own
 * share is the difference. Each variant runs in a fresh process (`pnpm --filter @ssehub/bench heap`).
 * The clients are in the same process: their share is the same in every variant.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import { Hono } from 'hono';
import { serve as serveHono } from '@hono/node-server';
import { createHub } from '@ssehub/core';
import { serveNode } from '@ssehub/core/adapter/node';
import { sse as expressSse } from '@ssehub/express';
import { sse as koaSse } from '@ssehub/koa';
import { sse as honoSse } from '@ssehub/hono';

const VARIANTS = ['node-http', 'node-http + ssehub', 'express', 'express + ssehub', 'koa', 'koa + ssehub', 'hono (Web stream)', 'hono + ssehub (Node response)'];
const HEAD = { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' };
const WARM = 500;
const MEASURED = 2000;

function server(variant: string): net.Server {
  const hub = createHub({ heartbeat: 0 });
  const held: unknown[] = [];
  const hold = (res: http.ServerResponse) => {
    res.writeHead(200, HEAD);
    res.flushHeaders();
    held.push(res);
  };
  switch (variant) {
    case 'node-http':
      return http.createServer((_req, res) => hold(res));
    case 'node-http + ssehub':
      return http.createServer((_req, res) => void serveNode(hub, res, {}));
    case 'express':
    case 'express + ssehub': {
      const app = express();
      app.get('/events', variant === 'express' ? (_req, res) => hold(res) : expressSse(hub));
      return http.createServer(app);
    }
    case 'koa':
    case 'koa + ssehub': {
      const app = new Koa();
      if (variant === 'koa')
        app.use((ctx) => {
          ctx.respond = false;
          hold(ctx.res);
        });
      else app.use(koaSse(hub));
      return http.createServer(app.callback());
    }
    default: {
      const app = new Hono();
      if (variant === 'hono (Web stream)') {
        // The bare Hono stream: a Web ReadableStream that stays open.
        app.get('/events', () => new Response(new ReadableStream({ start: (c) => void held.push(c) }), { headers: HEAD }));
      } else app.get('/events', honoSse(hub));
      return serveHono({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as net.Server;
    }
  }
}

function open(port: number, n: number, sockets: net.Socket[]): Promise<void> {
  let left = n;
  return new Promise((resolve) => {
    for (let i = 0; i < n; i++) {
      const s = net.connect(port, '127.0.0.1');
      sockets.push(s);
      s.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
      s.once('data', () => --left === 0 && resolve());
    }
  });
}

function heapUsed(): number {
  global.gc!();
  global.gc!();
  return process.memoryUsage().heapUsed;
}

async function measure(variant: string): Promise<number> {
  const s = server(variant);
  if (!s.listening) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  const sockets: net.Socket[] = [];
  await open(port, WARM, sockets);
  await new Promise((r) => setTimeout(r, 200));
  const before = heapUsed();
  for (let i = 0; i < MEASURED; i += 500) await open(port, 500, sockets);
  await new Promise((r) => setTimeout(r, 200));
  return (heapUsed() - before) / MEASURED;
}

async function main(): Promise<void> {
  const variant = process.argv[2];
  if (variant) {
    process.send!(await measure(variant));
    process.exit(0);
  }
  const rows: string[] = ['| server | V8 heap per open stream, server and client socket in one process (KiB) |', '| --- | ---: |'];
  for (const v of VARIANTS) {
    const child = fork(__filename, [v], { execArgv: ['--import', 'tsx', '--expose-gc'] });
    const bytes = await new Promise<number>((resolve) => child.once('message', (m) => resolve(m as number)));
    rows.push(`| ${v} | ${(bytes / 1024).toFixed(2)} |`);
    console.log(rows[rows.length - 1]);
  }
  const out = path.join(__dirname, '..', 'results', 'heap.md');
  writeFileSync(out, `Heap per open stream, ${new Date().toISOString()} (\`pnpm --filter @ssehub/bench heap\`):\n\n${rows.join('\n')}\n`);
}

void main();
