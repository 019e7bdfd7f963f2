import type http from 'node:http';
import Fastify from 'fastify';
import { publish, sse } from '@ssehub/fastify';
import { Demo, demoAsset } from '@ssehub/example-shared';

/** The demo on Fastify: the page, the SSE stream at /events, and the demo's two POST routes and its stats. */
export async function createServer(demo: Demo): Promise<http.Server> {
  const app = Fastify();

  // GET /events?id=<client id>&channel=<channel>: the stream. Last-Event-ID replay is built in.
  app.get('/events', sse(demo.hub));

  // The HTTP publish API for other programs: POST /api/broadcast, /api/channels/:channel, /api/clients/:id.
  void app.register(publish(demo.hub, { token: demo.token }), { prefix: '/api' });

  // The page calls these; each is a hub.broadcast / broadcastTo / disconnect (see the shared Demo).
  app.post('/demo/publish', async (request, reply) => {
    const { status, body } = demo.publish(request.body);
    return reply.code(status).send(body);
  });
  app.post('/demo/drop', async (request, reply) => {
    const { status, body } = demo.drop(request.body);
    return reply.code(status).send(body);
  });

  // The page's live panel polls this: hub.stats() and hub.health() as JSON.
  app.get('/demo/stats', async (_request, reply) => reply.header('Cache-Control', 'no-store').send(demo.stats()));

  for (const path of ['/', '/demo.js', '/demo.css']) {
    app.get(path, async (_request, reply) => {
      const asset = demoAsset(path, 'Fastify')!;
      return reply.type(asset.contentType).send(asset.body);
    });
  }

  // Fastify loads its plugins (the publish API) before it takes requests; the server is not yet listening.
  await app.ready();
  return app.server;
}
