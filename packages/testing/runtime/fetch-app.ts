/**
 * The runtime tests' app on `@ssehub/fetch` alone, no framework: one Fetch handler routing by path,
 * served by the real Bun (fetch-bun-server.ts) and Deno (fetch-deno-server.ts). The same routes as
 * app.ts (the Hono app): `sse(hub)` on /events, gzip on /gzip-events, a stream whose `authorize`
 * takes a while on /slow-events, the publish API (open, for the test) under /api, and /state.
 */
import { createHub, type HubOptions } from '@ssehub/core';
import { publish, sse } from '@ssehub/fetch';

/** Milliseconds /slow-events spends in `authorize` (as app.ts's, which is not imported: this app loads no Hono). */
const AUTHORIZE_DELAY_MS = 400;

/** Builds the handler; `env` reads HEARTBEAT (ms, else the hub's default). */
export function fetchApp(env: (name: string) => string | undefined): (request: Request) => Promise<Response> {
  const options: HubOptions = { history: 100 };
  const heartbeat = env('HEARTBEAT');
  if (heartbeat) options.heartbeat = Number(heartbeat);
  const hub = createHub(options);
  let connects = 0;
  let disconnects = 0;
  hub.on('connect', () => connects++);
  hub.on('disconnect', () => disconnects++);

  const routes: Record<string, (request: Request) => Promise<Response>> = {
    '/events': sse(hub),
    '/gzip-events': sse(hub, { compress: true }),
    '/slow-events': sse(hub, { authorize: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), AUTHORIZE_DELAY_MS)) }),
    '/state': async () => Response.json({ size: hub.size, connects, disconnects }),
  };
  const api = publish(hub, { prefix: '/api', public: true });
  return async function app(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    const route = routes[pathname];
    if (route) return route(request);
    if (pathname === '/api' || pathname.startsWith('/api/')) return api(request);
    return new Response('not found\n', { status: 404 });
  };
}
