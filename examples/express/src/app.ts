import http from 'node:http';
import express from 'express';
import { publish, sse } from '@ssehub/express';
import { Demo, demoAsset } from '@ssehub/example-shared';

/** The demo on Express: the page, the SSE stream at /events, and the demo's two POST routes and its stats. */
export function createServer(demo: Demo): http.Server {
  const app = express();

  // GET /events?id=<client id>&channel=<channel>: the stream. Last-Event-ID replay is built in.
  app.use('/events', sse(demo.hub));

  // The HTTP publish API for other programs: POST /api/broadcast, /api/channels/:channel, /api/clients/:id.
  app.use('/api', publish(demo.hub, { token: demo.token }));

  // The page calls these; each is a hub.broadcast / broadcastTo / disconnect (see the shared Demo).
  app.post('/demo/publish', express.json(), (req, res) => {
    const { status, body } = demo.publish(req.body);
    res.status(status).json(body);
  });
  app.post('/demo/drop', express.json(), (req, res) => {
    const { status, body } = demo.drop(req.body);
    res.status(status).json(body);
  });

  // The page's live panel polls this: hub.stats() and hub.health() as JSON.
  app.get('/demo/stats', (req, res) => {
    res.set('Cache-Control', 'no-store').json(demo.stats());
  });

  app.get(['/', '/demo.js', '/demo.css'], (req, res) => {
    const asset = demoAsset(req.path, 'Express')!;
    res.type(asset.contentType).send(asset.body);
  });

  return http.createServer(app);
}
