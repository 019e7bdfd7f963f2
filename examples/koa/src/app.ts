import http from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import { publish, sse } from '@ssehub/koa';
import { Demo, demoAsset, readJson } from '@ssehub/example-shared';

/** The demo on Koa: the page, the SSE stream at /events, and the demo's two POST routes and its stats. */
export function createServer(demo: Demo): http.Server {
  const app = new Koa();
  const router = new Router();

  // GET /events?id=<client id>&channel=<channel>: the stream. Last-Event-ID replay is built in.
  router.get('/events', sse(demo.hub));

  // The page calls these; each is a hub.broadcast / broadcastTo / disconnect (see the shared Demo).
  router.post('/demo/publish', async (ctx) => {
    const { status, body } = demo.publish(await readJson(ctx.req));
    ctx.status = status;
    ctx.body = body;
  });
  router.post('/demo/drop', async (ctx) => {
    const { status, body } = demo.drop(await readJson(ctx.req));
    ctx.status = status;
    ctx.body = body;
  });

  // The page's live panel polls this: hub.stats() and hub.health() as JSON.
  router.get('/demo/stats', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = demo.stats();
  });

  router.get(['/', '/demo.js', '/demo.css'], (ctx) => {
    const asset = demoAsset(ctx.path, 'Koa')!;
    ctx.type = asset.contentType;
    ctx.body = asset.body;
  });

  // The HTTP publish API for other programs: POST /api/broadcast, /api/channels/:channel, /api/clients/:id.
  app.use(publish(demo.hub, { prefix: '/api', token: demo.token }));
  app.use(router.routes()).use(router.allowedMethods());
  return http.createServer(app.callback());
}
