/**
 * One rule for channel names and event ids, wherever they enter: a stream's subscription (400),
 * `broadcast` (TypeError) and the publish API (400), on every adapter. And every publish answer
 * names the id of the event it published.
 */
import { createHub, type Hub } from '@ssehub/core';
import { publish as expressPublish } from '@ssehub/express';
import { publish as koaPublish } from '@ssehub/koa';
import { publish as honoPublish } from '@ssehub/hono';
import { publish as fastifyPublish } from '@ssehub/fastify';
import { publish as fetchPublish } from '@ssehub/fetch';
import { ADAPTERS, startServer, type Mounts, type TestServer } from '../src/servers';
import { HttpStream, failOnUnhandledRejections, waitUntil } from '../src/clients';

failOnUnhandledRejections();

const api: Mounts = {
  express: (app) => app.use('/api', expressPublish(hubRef(), { public: true })),
  koa: (app) => app.use(koaPublish(hubRef(), { public: true, prefix: '/api' })),
  hono: (app) => app.use('/api/*', honoPublish(hubRef(), { public: true, prefix: '/api' })),
  fastify: (app) => void app.register(fastifyPublish(hubRef(), { public: true }), { prefix: '/api' }),
  fetch: (app) => app.route('/api/*', fetchPublish(hubRef(), { public: true, prefix: '/api' })),
};
let current: Hub;
function hubRef(): Hub {
  return current;
}

/** Channel names no stream may subscribe to and no broadcast may target, raw and percent-encoded. */
const BAD_CHANNELS: [name: string, encoded: string][] = [
  ['room\r\n', 'room%0D%0A'],
  ['a\nb', 'a%0Ab'],
  ['nul\0', 'nul%00'],
  ['', ''],
];

describe.each(ADAPTERS)('%s adapter', (adapter) => {
  let server: TestServer;
  const streams: HttpStream[] = [];

  beforeEach(async () => {
    current = createHub({ heartbeat: 0 });
    server = await startServer(adapter, current, { mount: api });
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await current.close();
    await server.close();
  });
  async function open(query: string): Promise<HttpStream> {
    const s = await HttpStream.open(`${server.origin}/events${query}`);
    streams.push(s);
    return s;
  }
  const post = (path: string, body: unknown) =>
    fetch(`${server.origin}/api${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  it.each(BAD_CHANNELS)('refuses channel %j alike at subscribe (400), in broadcast (TypeError) and in the publish API (400)', async (name, encoded) => {
    const s = await open(`?channel=ok&channel=${encoded}`);
    expect(s.status).toBe(400);
    expect(current.size).toBe(0);
    expect(current.channels()).toEqual([]);
    expect(() => current.broadcast({ data: 'x', channel: name })).toThrow(TypeError);
    expect(() => current.broadcast({ data: 'x', channel: ['ok', name] })).toThrow(TypeError);
    if (encoded !== '') {
      const res = await post(`/channels/${encoded}`, { data: 'x' });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ field: 'channel' });
    }
    expect(current.lastEventId).toBeUndefined();
  });

  it('accepts any other channel name everywhere, and delivers to it', async () => {
    const name = 'salle 1/ü: 日本';
    const s = await open(`?channel=${encodeURIComponent(name)}`);
    expect(s.status).toBe(200);
    await waitUntil(() => current.channelSize(name) === 1, 'the subscription');
    const res = await post(`/channels/${encodeURIComponent(name)}`, { data: 'hi' });
    expect(res.status).toBe(201);
    current.broadcast({ data: 'direct', channel: name });
    await s.waitForEvents(2);
    expect(s.events.map((e) => e.data)).toEqual(['hi', 'direct']);
  });

  it('refuses in the publish API the ids broadcast refuses, naming the field', async () => {
    for (const id of ['é-n', 'ü-n-日本', ' padded', 'x'.repeat(257)]) {
      expect(() => current.broadcast({ data: 'x', id })).toThrow(TypeError);
      const res = await post('/broadcast', { data: 'x', id });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ field: 'id' });
    }
    expect(current.lastEventId).toBeUndefined();
  });

  it('answers every publish with the id of the event it published, on each route', async () => {
    const s = await open('?id=alice&channel=room');
    await waitUntil(() => current.size === 1, 'the stream');
    const answers: { id: string; consumers: number }[] = [];
    for (const path of ['/clients/alice', '/broadcast', '/channels/room', '/clients/alice', '/clients/nobody']) {
      const res = await post(path, { data: path });
      expect(res.status).toBe(201);
      answers.push((await res.json()) as { id: string; consumers: number });
    }
    await s.waitForEvents(4);
    expect(s.events.map((e) => e.id)).toEqual(answers.slice(0, 4).map((a) => a.id));
    expect(answers.map((a) => a.consumers)).toEqual([1, 1, 1, 1, 0]);
    expect(new Set(answers.map((a) => a.id)).size).toBe(5);
  });
});
