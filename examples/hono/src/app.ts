import type http from 'node:http';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import { publish, sse } from '@ssehub/hono';
import { Demo, demoAsset } from '@ssehub/example-shared';

/** The demo on Hono: the page, the SSE stream at /events, and the demo's two POST routes and its stats. */
export function createApp(demo: Demo): Hono {
  const app = new Hono();

  // GET /events?id=<client id>&channel=<channel>: the stream. Last-Event-ID replay is built in.
  app.get('/events', sse(demo.hub));

  // The HTTP publish API for other programs: POST /api/broadcast, /api/channels/:channel, /api/clients/:id.
  app.use('/api/*', publish(demo.hub, { prefix: '/api', token: demo.token }));

  // The page calls these; each is a hub.broadcast / broadcastTo / disconnect (see the shared Demo).
  app.post('/demo/publish', async (c) => {
    const { status, body } = demo.publish(await c.req.json().catch(() => undefined));
    return c.json(body, status);
  });
  app.post('/demo/drop', async (c) => {
    const { status, body } = demo.drop(await c.req.json().catch(() => undefined));
    return c.json(body, status);
  });

  // The page's live panel polls this: hub.stats() and hub.health() as JSON.
  app.get('/demo/stats', (c) => c.json(demo.stats(), 200, { 'Cache-Control': 'no-store' }));

  for (const path of ['/', '/demo.js', '/demo.css']) {
    app.get(path, (c) => {
      const asset = demoAsset(path, 'Hono')!;
      return c.body(asset.body, 200, { 'Content-Type': asset.contentType });
    });
  }
  return app;
}

/** The Hono app on a Node HTTP server (not yet listening). */
export function createServer(demo: Demo): http.Server {
  return createAdaptorServer({ fetch: createApp(demo).fetch }) as http.Server;
}
