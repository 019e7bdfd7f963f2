/**
 * The publish API under a Redis backplane: every answer names the id of the event it published,
 * though delivery (on this hub too) waits for Redis to order it.
 */
import { publish as expressPublish } from '@ssehub/express';
import { createHub } from '@ssehub/core';
import { redisBackplane } from '@ssehub/redis';
import { startServer } from '../../testing/src/servers';
import { HttpStream, failOnUnhandledRejections, waitUntil } from '../../testing/src/clients';
import { requireRedis, REDIS_URL, uniquePrefix } from './redis-helpers';

failOnUnhandledRejections();
beforeAll(() => requireRedis());

test('each publish answers the id its stream receives, on every route, with a backplane', async () => {
  const backplane = redisBackplane({ url: REDIS_URL, prefix: uniquePrefix('api') });
  const hub = createHub({ heartbeat: 0, backplane });
  const server = await startServer('express', hub, { mount: { express: (app) => app.use('/api', expressPublish(hub, { public: true })) } });
  await backplane.ready();
  const s = await HttpStream.open(`${server.origin}/events?id=alice&channel=room`);
  try {
    await waitUntil(() => hub.size === 1, 'the stream');
    const answered: string[] = [];
    // Posted back to back: the hub's head moves only when Redis echoes each one.
    for (const path of ['/clients/alice', '/clients/alice', '/broadcast', '/channels/room', '/clients/alice']) {
      const res = await fetch(`${server.origin}/api${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ data: path }),
      });
      expect(res.status).toBe(201);
      answered.push(((await res.json()) as { id: string }).id);
    }
    await s.waitForEvents(5);
    expect(s.events.map((e) => e.id)).toEqual(answered);
    expect(s.events.map((e) => e.data)).toEqual(['/clients/alice', '/clients/alice', '/broadcast', '/channels/room', '/clients/alice']);
  } finally {
    s.close();
    await hub.close();
    await server.close();
  }
});
