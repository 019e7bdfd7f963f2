import http from 'node:http';
import express from 'express';
import { createHub } from '@ssehub/core';
import { sse } from '@ssehub/express';
import { redisBackplane } from '@ssehub/redis';

/** One worker: its own hub and HTTP server; the backplane shares broadcasts and history through Redis. */
export async function startWorker(): Promise<void> {
  const backplane = redisBackplane({ url: process.env.REDIS_URL, prefix: process.env.SSEHUB_PREFIX ?? 'ssehub-example' });
  const hub = createHub({
    history: 1000,
    retry: 1000,
    backplane,
    onError: (err) => console.error(`worker ${process.pid}:`, err instanceof Error ? err.message : err),
  });

  const app = express();
  // Tells which worker served a request, so it is plain that clients and publishers land on different ones.
  app.use((_req, res, next) => {
    res.setHeader('X-Worker', String(process.pid));
    next();
  });

  // GET /events?id=<client id>&channel=<channel>: the stream. Last-Event-ID replay works on any worker.
  app.use('/events', sse(hub));

  // POST /publish {"text": "...", "channel"?: "...", "to"?: "<client id>"}: broadcast from this worker.
  app.post('/publish', express.json(), (req, res) => {
    const { text, channel, to } = (req.body ?? {}) as { text?: unknown; channel?: unknown; to?: unknown };
    if (typeof text !== 'string') {
      res.status(400).json({ error: 'body must be JSON like {"text": "hello"}' });
      return;
    }
    const data = { text, publishedBy: process.pid };
    if (typeof to === 'string' && to) {
      const reached = hub.broadcastTo(to, { event: 'private', data });
      res.json({ worker: process.pid, reachedHere: reached });
      return;
    }
    const id = hub.broadcast({ event: 'chat', data, channel: typeof channel === 'string' && channel ? channel : undefined });
    res.json({ worker: process.pid, id });
  });

  app.get('/', (_req, res) => {
    res.type('text/plain').send('GET /events[?channel=c&id=u] for the stream, POST /publish {"text":"hi"} to broadcast\n');
  });

  const server = http.createServer(app);
  server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
    console.log(`worker ${process.pid} listening`);
  });
  await backplane.ready();
  console.log(`worker ${process.pid} joined the shared stream`);

  process.once('SIGTERM', () => {
    // Ending every stream first lets the server close at once; clients reconnect to the other workers.
    void hub.close().then(() => server.close(() => process.exit(0)));
  });
}
