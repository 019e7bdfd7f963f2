import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import Router from '@koa/router';
import { Hono } from 'hono';
import { serve as serveHono } from 'hono-node-server-1';
import type { Hub, StreamOptions } from '@ssehub/core';
import { sse as expressSse } from '@ssehub/express';
import { sse as koaSse } from '@ssehub/koa';
import { sse as honoSse } from '@ssehub/hono';

/** The adapters every behavioural test runs against. */
export const ADAPTERS = ['express', 'koa', 'hono'] as const;
export type AdapterName = (typeof ADAPTERS)[number];

/** A real HTTP server on 127.0.0.1 and an ephemeral port. */
export interface TestServer {
  readonly adapter: AdapterName;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Stops accepting, destroys open sockets, resolves when the server is closed. */
  close(): Promise<void>;
}

/** Hooks to mount more routes on the app before it listens (publish handlers, pages...). */
export interface Mounts {
  express?: (app: express.Express) => void;
  koa?: (app: Koa, router: Router) => void;
  hono?: (app: Hono) => void;
}

export interface StartOptions {
  /** Where the stream is mounted. Default: `/events`. */
  path?: string;
  /** Options passed to the adapter's `sse()`; resolvers receive the framework's request object. */
  sse?: StreamOptions<any>;
  mount?: Mounts;
}

/** Starts `hub` behind one adapter on a real server. */
export async function startServer(adapter: AdapterName, hub: Hub, options: StartOptions = {}): Promise<TestServer> {
  const path = options.path ?? '/events';
  let server: http.Server;
  if (adapter === 'express') {
    const app = express();
    options.mount?.express?.(app);
    app.use(path, expressSse(hub, options.sse));
    server = http.createServer(app);
  } else if (adapter === 'koa') {
    const app = new Koa();
    const router = new Router();
    options.mount?.koa?.(app, router);
    router.get(path, koaSse(hub, options.sse));
    app.use(router.routes()).use(router.allowedMethods());
    server = http.createServer(app.callback());
  } else {
    const app = new Hono();
    options.mount?.hono?.(app);
    app.get(path, honoSse(hub, options.sse));
    server = await new Promise<http.Server>((resolve) => {
      const s = serveHono({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s as http.Server));
    });
  }
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    adapter,
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
