import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import Router from '@koa/router';
import { Hono } from 'hono';
import Fastify, { type FastifyInstance } from 'fastify';
import { serve as serveHono2, getRequestListener } from '@hono/node-server';
import { serve as serveHono1 } from 'hono-node-server-1';
import type { Hub, StreamOptions } from '@ssehub/core';
import { sse as expressSse } from '@ssehub/express';
import { sse as koaSse } from '@ssehub/koa';
import { sse as honoSse } from '@ssehub/hono';
import { sse as fastifySse } from '@ssehub/fastify';
import { sse as fetchSse } from '@ssehub/fetch';

// The previous majors, installed under aliases; they have no types of their own, and their API is
// the part of today's that these servers use.
const express4: typeof express = require('express-4');
const Koa2: typeof Koa = require('koa-2');
const Fastify4: typeof Fastify = require('fastify-4');

/**
 * The adapters every behavioural test runs against. `fetch` is `@ssehub/fetch` behind a node:http
 * to Fetch bridge (`@hono/node-server`'s `getRequestListener`, the same one Hono uses on Node), since
 * Node 20 has no Fetch server of its own; the real Bun and Deno servers are in runtimes.test.ts.
 */
const ALL_ADAPTERS = ['express', 'koa', 'hono', 'fastify', 'fetch'] as const;
export type AdapterName = (typeof ALL_ADAPTERS)[number];

/**
 * `SSEHUB_TEST_ADAPTERS=express` (a comma-separated list) runs the suites on those adapters only,
 * on today's major of each: the mutation run (docs/mutation.md) tests the core through one adapter
 * rather than the whole matrix. Unset, every adapter and every major run.
 */
const ONLY: readonly string[] | undefined = process.env.SSEHUB_TEST_ADAPTERS?.split(',').map((a) => a.trim()).filter(Boolean);
for (const name of ONLY ?? []) {
  if (!(ALL_ADAPTERS as readonly string[]).includes(name)) throw new Error(`SSEHUB_TEST_ADAPTERS: no adapter named ${name}`);
}

/** The adapters the suites run on: all of them unless SSEHUB_TEST_ADAPTERS names some. */
export const ADAPTERS: readonly AdapterName[] = ONLY ? ALL_ADAPTERS.filter((a) => ONLY.includes(a)) : ALL_ADAPTERS;


/**
 * One framework version an adapter is tested on: Express 5 or 4, Koa 3 or 2, Hono 4 on
 * `@hono/node-server` 2 or 1, Fastify 5 or 4, `@ssehub/fetch` on `@hono/node-server` 2's bridge. `major` is
 * the major of what differs (for Hono and Fetch, of `@hono/node-server`).
 */
export interface Framework {
  readonly adapter: AdapterName;
  readonly major: number;
  /** For test titles: `express 5`, `hono on node-server 1`... */
  readonly name: string;
}

/** Today's majors, what `startServer('express', ...)` and the other adapter names start. */
export const CURRENT: Readonly<Record<AdapterName, Framework>> = {
  express: { adapter: 'express', major: 5, name: 'express 5' },
  koa: { adapter: 'koa', major: 3, name: 'koa 3' },
  hono: { adapter: 'hono', major: 2, name: 'hono on node-server 2' },
  fastify: { adapter: 'fastify', major: 5, name: 'fastify 5' },
  fetch: { adapter: 'fetch', major: 2, name: 'fetch on the node-server 2 bridge' },
};

/** Every supported major of every framework: the behavioural suite runs on all of them. */
const ALL_FRAMEWORKS: readonly Framework[] = [
  CURRENT.express,
  { adapter: 'express', major: 4, name: 'express 4' },
  CURRENT.koa,
  { adapter: 'koa', major: 2, name: 'koa 2' },
  CURRENT.hono,
  { adapter: 'hono', major: 1, name: 'hono on node-server 1' },
  CURRENT.fastify,
  { adapter: 'fastify', major: 4, name: 'fastify 4' },
  CURRENT.fetch,
];

/** Every supported major of every framework, or today's major of those SSEHUB_TEST_ADAPTERS names. */
export const FRAMEWORKS: readonly Framework[] = ONLY ? ADAPTERS.map((a) => CURRENT[a]) : ALL_FRAMEWORKS;

/**
 * What a stream's body starts with before any event, on every adapter: the lone comment line `:\n`,
 * which makes a runtime or proxy that holds headers until the first body bytes (Bun, nginx over
 * HTTP/2) send them at once.
 */
export const LEAD: Readonly<Record<AdapterName, string>> = { express: ':\n', koa: ':\n', hono: ':\n', fastify: ':\n', fetch: ':\n' };

/** The `serve` of each `@hono/node-server` major, for tests that build their own Hono server. */
export const HONO_NODE_SERVERS: Readonly<Record<number, typeof serveHono2>> = {
  2: serveHono2,
  1: serveHono1 as unknown as typeof serveHono2,
};

/** A real HTTP server on 127.0.0.1 and an ephemeral port. */
export interface TestServer {
  readonly adapter: AdapterName;
  readonly framework: Framework;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The Node server itself, for tests that close it their own way (`hub.drain({ server })`, say). */
  readonly server: http.Server;
  /** Stops accepting, destroys open sockets, resolves when the server is closed (at once if it already is). */
  close(): Promise<void>;
}

/** A Fetch handler, as `@ssehub/fetch` makes them and Next.js, Bun and Deno call them. */
export type FetchRoute = (request: Request, context?: unknown) => Response | Promise<Response>;

/** The fetch test server's routing: what a Next.js app router or a Bun/Deno app would do. */
export interface FetchApp {
  /** Answers `path`, or every path under `prefix` for `prefix/*`; tried in mount order, before the stream's path. */
  route(path: string, handler: FetchRoute): void;
  /** Node middleware in front of the bridge, as Next.js puts `compression` in front of its route handlers. */
  node(middleware: (req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => void): void;
}

/** Hooks to mount more routes on the app before it listens (publish handlers, pages...). */
export interface Mounts {
  express?: (app: express.Express) => void;
  koa?: (app: Koa, router: Router) => void;
  hono?: (app: Hono) => void;
  /** Fastify: register routes or plugins (`app.register(...)`); the stream route is added after. */
  fastify?: (app: FastifyInstance) => void;
  fetch?: (app: FetchApp) => void;
}

export interface StartOptions {
  /** Where the stream is mounted. Default: `/events`. */
  path?: string;
  /** Options passed to the adapter's `sse()`; resolvers receive the framework's request object. */
  sse?: StreamOptions<any>;
  mount?: Mounts;
}

/**
 * Starts `hub` behind one adapter on a real server: an adapter name starts it on today's major of
 * its framework, a {@link Framework} on that one.
 */
export async function startServer(target: AdapterName | Framework, hub: Hub, options: StartOptions = {}): Promise<TestServer> {
  const framework = typeof target === 'string' ? CURRENT[target] : target;
  const { adapter, major } = framework;
  const path = options.path ?? '/events';
  let server: http.Server;
  let closeApp: (() => Promise<unknown>) | undefined;
  if (adapter === 'express') {
    const app = major === 4 ? express4() : express();
    options.mount?.express?.(app);
    app.use(path, expressSse(hub, options.sse));
    server = http.createServer(app);
  } else if (adapter === 'koa') {
    const app = major === 2 ? new Koa2() : new Koa();
    const router = new Router();
    options.mount?.koa?.(app, router);
    router.get(path, koaSse(hub, options.sse));
    app.use(router.routes()).use(router.allowedMethods());
    server = http.createServer(app.callback());
  } else if (adapter === 'fastify') {
    const app = (major === 4 ? Fastify4 : Fastify)();
    options.mount?.fastify?.(app);
    // Loads the plugins the mounts registered first, so their hooks apply to the stream's route too.
    await app.after();
    app.get(path, fastifySse(hub, options.sse));
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = app.server;
    // Fastify's own close (its onClose hooks), once the server is closed.
    closeApp = () => app.close();
  } else if (adapter === 'fetch') {
    server = fetchServer(fetchSse(hub, options.sse), path, options.mount?.fetch);
  } else {
    const app = new Hono();
    options.mount?.hono?.(app);
    app.get(path, honoSse(hub, options.sse));
    const serve = HONO_NODE_SERVERS[major];
    if (!serve) throw new Error(`no @hono/node-server ${major} installed`);
    server = await new Promise<http.Server>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s as http.Server));
    });
  }
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    adapter,
    framework,
    port,
    origin: `http://127.0.0.1:${port}`,
    server,
    close: async () => {
      await new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await closeApp?.();
    },
  };
}

/** `@ssehub/fetch`'s stream on `path`, and the mounted routes, behind node-server's node:http to Fetch bridge. */
function fetchServer(stream: FetchRoute, path: string, mount?: (app: FetchApp) => void): http.Server {
  const routes: [string, FetchRoute][] = [];
  const middleware: Parameters<FetchApp['node']>[0][] = [];
  mount?.({ route: (p, h) => void routes.push([p, h]), node: (m) => void middleware.push(m) });
  const matches = (route: string, pathname: string) =>
    route.endsWith('/*') ? pathname === route.slice(0, -2) || pathname.startsWith(route.slice(0, -1)) : pathname === route;
  // The bridge's second argument ({ incoming, outgoing }) goes on to the handlers, as an app passes it.
  const app = async (request: Request, bridge?: unknown): Promise<Response> => {
    const { pathname } = new URL(request.url);
    for (const [route, handler] of routes) if (matches(route, pathname)) return handler(request, bridge);
    if (pathname === path) return stream(request, bridge);
    return new Response('not found\n', { status: 404, headers: { 'Content-Type': 'text/plain' } });
  };
  // Leaves the global Request and Response alone: the handlers make standard ones.
  const listener = getRequestListener(app, { overrideGlobalObjects: false });
  return http.createServer((req, res) => {
    let i = 0;
    const next = (): void => {
      const m = middleware[i++];
      if (m) m(req, res, next);
      else void listener(req, res);
    };
    next();
  });
}
