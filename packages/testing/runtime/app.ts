/**
 * The Hono app the runtime tests serve under the real Bun and Deno (see bun-server.ts and
 * deno-server.ts): `sse(hub)` on /events, a stream whose `authorize` takes a while on /slow-events,
 * the publish API (open, for the test) under /api, and /state, which reports the hub's size.
 */
import { Hono } from 'hono';
import { createHub, type HubOptions } from '@ssehub/core';
import { publish, sse } from '@ssehub/hono';

/** Milliseconds /slow-events spends in `authorize`, so a client can leave before its stream opens. */
export const AUTHORIZE_DELAY_MS = 400;

/**
 * Builds the app; `env` reads the setting the test passes: HEARTBEAT (ms, else the hub's default).
 * `first` mounts a runtime's own middleware before the routes.
 */
export function runtimeApp(env: (name: string) => string | undefined, first?: (app: Hono) => void): Hono {
  const options: HubOptions = { history: 100 };
  const heartbeat = env('HEARTBEAT');
  if (heartbeat) options.heartbeat = Number(heartbeat);
  const hub = createHub(options);
  let connects = 0;
  let disconnects = 0;
  hub.on('connect', () => connects++);
  hub.on('disconnect', () => disconnects++);

  const app = new Hono();
  first?.(app);
  app.get('/events', sse(hub));
  app.get('/gzip-events', sse(hub, { compress: true }));
  app.get(
    '/slow-events',
    sse(hub, { authorize: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), AUTHORIZE_DELAY_MS)) }),
  );
  app.get('/state', (c) => c.json({ size: hub.size, connects, disconnects }));
  app.use('/api/*', publish(hub, { prefix: '/api', public: true }));
  return app;
}
