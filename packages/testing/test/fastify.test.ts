/**
 * @ssehub/fastify as Fastify users expect it, on Fastify 5 and 4, on real servers: hooks run before
 * the stream and their headers reach it, refusals and errors are ordinary Fastify replies (onSend,
 * the error handler, the request's log line), `onResponse` or `onRequestAbort` when a stream ends,
 * 405 for methods the route does not serve, the publish plugin's prefixes, and the shutdown recipe
 * (a `preClose` hook that drains the hub). The shared suites cover the rest.
 */
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { createHub, type Hub } from '@ssehub/core';
import { publish, sse } from '@ssehub/fastify';
import { EsClient, HttpStream, failOnUnhandledRejections, sleep, waitUntil } from '../src/clients';

failOnUnhandledRejections();
jest.setTimeout(20_000);

const Fastify4: typeof Fastify = require('fastify-4');
const MAJORS = [
  { major: 5, make: Fastify },
  { major: 4, make: Fastify4 },
];

/** One log line of Fastify's pino logger. */
interface LogLine {
  level: number;
  reqId?: string;
  msg: string;
  res?: { statusCode: number };
  err?: { message: string };
}

describe.each(MAJORS)('fastify $major', ({ make }) => {
  let hub: Hub;
  let app: FastifyInstance;
  let origin: string;
  let logs: LogLine[];
  const closers: (() => void)[] = [];

  /** A Fastify app with a logger whose lines the test reads; `routes` adds hooks and routes before it listens. */
  async function start(routes: (app: FastifyInstance) => void, options: FastifyServerOptions = {}): Promise<void> {
    logs = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as LogLine);
        cb();
      },
    });
    app = make({ logger: { level: 'info', stream }, ...options });
    routes(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }
  async function stream(path = '/events', headers: Record<string, string> = {}): Promise<HttpStream> {
    const s = await HttpStream.open(origin + path, headers);
    closers.push(() => s.close());
    return s;
  }

  beforeEach(() => {
    hub = createHub({ heartbeat: 0 });
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await hub.close();
    app.server.closeAllConnections();
    await app.close();
  });

  it('runs onRequest and preHandler first, sends the headers they set with the stream, skips onSend, and runs onResponse when the server ends it', async () => {
    const seen: string[] = [];
    await start((app) => {
      app.addHook('onRequest', async (_request, reply) => {
        seen.push('onRequest');
        reply.header('x-request-tag', 'tagged');
        reply.header('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
        // The stream's own type wins over one a hook set.
        reply.header('content-type', 'application/json');
      });
      app.addHook('preHandler', async (request) => {
        seen.push(`preHandler ${hub.size}`);
        (request as unknown as { user: string }).user = 'from-the-hook';
      });
      app.addHook('onSend', async (_request, reply, payload) => {
        seen.push(`onSend ${reply.statusCode}`);
        return payload;
      });
      app.addHook('onResponse', async (_request, reply) => void seen.push(`onResponse ${reply.statusCode}`));
      app.get('/events', sse(hub, { clientId: (request) => (request as unknown as { user: string }).user }));
    });
    const s = await stream();
    expect(s.status).toBe(200);
    expect(s.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(s.res.headers['x-request-tag']).toBe('tagged');
    expect(s.res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    await waitUntil(() => hub.size === 1, 'the stream');
    expect(hub.clients()[0]!.clientId).toBe('from-the-hook');
    hub.broadcast({ data: 'hello' });
    await s.waitForEvents(1);
    expect(seen).toEqual(['onRequest', 'preHandler 0']);
    hub.disconnectAll();
    await s.waitForEnd();
    await waitUntil(() => seen.length === 3, 'onResponse');
    expect(seen).toEqual(['onRequest', 'preHandler 0', 'onResponse 200']);
    // Fastify's own request log: the stream is one request, completed with 200 when it ended.
    const completed = logs.filter((l) => l.msg === 'request completed');
    expect(completed.map((l) => l.res?.statusCode)).toEqual([200]);
    expect(completed[0]!.reqId).toBe(logs.find((l) => l.msg === 'incoming request')!.reqId);
  });

  it('opens no stream when a hook answers first', async () => {
    await start((app) => {
      app.addHook('preHandler', async (request, reply) => {
        if (!request.headers.authorization) await reply.code(401).send({ error: 'log in' });
      });
      app.get('/events', sse(hub));
    });
    const s = await stream();
    expect(s.status).toBe(401);
    await s.waitForEnd();
    expect(JSON.parse(s.raw)).toEqual({ error: 'log in' });
    expect(hub.size).toBe(0);
    expect((await stream('/events', { Authorization: 'x' })).status).toBe(200);
  });

  it('answers refusals as Fastify replies: onSend and onResponse see them, and the request log has their status', async () => {
    const sent: number[] = [];
    await start((app) => {
      app.addHook('onSend', async (_request, reply, payload) => {
        sent.push(reply.statusCode);
        reply.header('x-seen-by-onsend', 'yes');
        return payload;
      });
      app.get('/events', sse(hub, { authorize: (request) => request.headers['x-key'] === 'k' }));
    });
    const refused = await stream();
    expect(refused.status).toBe(403);
    expect(refused.res.headers['x-seen-by-onsend']).toBe('yes');
    await refused.waitForEnd();
    expect(refused.raw).toBe('ssehub: forbidden\n');
    const many = await stream('/events?channel=a%0Ab', { 'X-Key': 'k' });
    expect(many.status).toBe(400);
    expect(sent).toEqual([403, 400]);
    await waitUntil(() => logs.filter((l) => l.msg === 'request completed').length === 2, 'the two log lines');
    expect(logs.filter((l) => l.msg === 'request completed').map((l) => l.res?.statusCode)).toEqual([403, 400]);
    expect(hub.size).toBe(0);
  });

  it("hands what authorize throws to Fastify's error handling: its status, the request's logger, and a custom handler", async () => {
    await start((app) => {
      app.get('/events', sse(hub, { authorize: () => Promise.reject(Object.assign(new Error('token expired'), { statusCode: 401 })) }));
      void app.register(async (scope) => {
        scope.setErrorHandler(async (err, _request, reply) => reply.code(503).send({ mine: (err as Error).message }));
        scope.get('/custom', sse(hub, { authorize: () => { throw new Error('store down'); } }));
      });
    });
    const s = await stream();
    expect(s.status).toBe(401);
    await s.waitForEnd();
    expect(JSON.parse(s.raw)).toMatchObject({ statusCode: 401, message: 'token expired' });
    const logged = logs.find((l) => l.err?.message === 'token expired');
    expect(logged?.reqId).toBe(logs.find((l) => l.msg === 'incoming request')!.reqId);
    const custom = await stream('/custom');
    expect(custom.status).toBe(503);
    await custom.waitForEnd();
    expect(JSON.parse(custom.raw)).toEqual({ mine: 'store down' });
    expect(hub.size).toBe(0);
    // The server is still up and serving.
    expect((await fetch(`${origin}/nope`)).status).toBe(404);
  });

  it('releases a stream the client leaves at once, and runs onRequestAbort', async () => {
    let aborted = 0;
    await start((app) => {
      app.addHook('onRequestAbort', async (_request) => void aborted++);
      app.get('/events', sse(hub));
    });
    const c = new EsClient(`${origin}/events?id=leaver`);
    closers.push(() => c.close());
    await c.waitForOpen();
    expect(hub.size).toBe(1);
    const closedAt = Date.now();
    c.close();
    await waitUntil(() => hub.size === 0, 'the hub to release the client', 1000);
    expect(Date.now() - closedAt).toBeLessThan(500);
    await waitUntil(() => aborted === 1, 'onRequestAbort');
  });

  it('answers 405 with Allow for a method it does not serve (HEAD, OPTIONS without cors)', async () => {
    await start((app) => {
      app.route({ method: ['GET', 'OPTIONS'], url: '/events', handler: sse(hub) });
      app.route({ method: ['GET', 'OPTIONS'], url: '/cors', handler: sse(hub, { cors: { origins: ['https://app.example'] } }) });
    });
    const head = await fetch(`${origin}/events`, { method: 'HEAD' });
    expect(head.status).toBe(405);
    expect(head.headers.get('allow')).toBe('GET');
    const options = await fetch(`${origin}/events`, { method: 'OPTIONS' });
    expect(options.status).toBe(405);
    expect(options.headers.get('allow')).toBe('GET');
    const preflight = await fetch(`${origin}/cors`, { method: 'OPTIONS', headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect((await fetch(`${origin}/cors`, { method: 'HEAD' })).headers.get('allow')).toBe('GET, OPTIONS');
    expect(hub.size).toBe(0);
  });

  it('serves the publish plugin under its own prefix or the register prefix, with onSend on its answers, and leaves other paths to the app', async () => {
    await start((app) => {
      app.addHook('onSend', async (_request, reply, payload) => {
        reply.header('x-app-hook', 'ran');
        return payload;
      });
      void app.register(publish(hub, { public: true, prefix: '/hub' }));
      void app.register(publish(hub, { token: 't' }), { prefix: '/v1/admin' });
      app.get('/hub/health', async () => ({ ok: true }));
      app.get('/events', sse(hub));
    });
    const s = await stream('/events?channel=room');
    await waitUntil(() => hub.size === 1, 'the stream');
    const a = await fetch(`${origin}/hub/channels/room`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"data":"one"}' });
    expect(a.status).toBe(201);
    expect(a.headers.get('x-app-hook')).toBe('ran');
    expect(await a.json()).toEqual({ id: hub.lastEventId, consumers: 1 });
    const b = await fetch(`${origin}/v1/admin/broadcast`, { method: 'POST', headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' }, body: '{"data":"two"}' });
    expect(b.status).toBe(201);
    expect((await fetch(`${origin}/v1/admin/broadcast`, { method: 'POST', body: '{}' })).status).toBe(401);
    expect(await (await fetch(`${origin}/hub`)).json()).toMatchObject({ consumers: 1 });
    expect(await (await fetch(`${origin}/hub/health`)).json()).toEqual({ ok: true });
    const unknown = await fetch(`${origin}/hub/elsewhere`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ message: 'Route GET:/hub/elsewhere not found' });
    await s.waitForEvents(2);
    expect(s.events.map((e) => e.data)).toEqual(['one', 'two']);
  });

  describe('shutdown', () => {
    it('a preClose hook that drains the hub lets app.close() finish, and refuses late EventSources in a way they survive', async () => {
      await start(
        (app) => {
          app.addHook('preClose', () => hub.drain({ within: 400 }));
          app.get('/events', sse(hub));
        },
        { return503OnClosing: false },
      );
      const streams = await Promise.all(Array.from({ length: 5 }, () => stream()));
      await waitUntil(() => hub.size === 5, 'five streams');
      const started = Date.now();
      const closed = app.close();
      await sleep(100);
      // Arriving while the hub drains: a 200 that tells EventSource to come back, not an error.
      const late = await stream();
      expect(late.status).toBe(200);
      expect(late.res.headers['x-ssehub-refused']).toBe('shutting-down');
      await late.waitForEnd();
      expect(late.retries).toHaveLength(1);
      await closed;
      expect(Date.now() - started).toBeLessThan(3000);
      await Promise.all(streams.map((s) => s.waitForEnd()));
      expect(hub.closed).toBe(true);
      expect(app.server.listening).toBe(false);
    });

    it('without it, app.close() waits for the open streams', async () => {
      await start((app) => app.get('/events', sse(hub)));
      const open = await stream();
      await waitUntil(() => hub.size === 1, 'the stream');
      let done = false;
      const closed = app.close().then(() => (done = true));
      await sleep(300);
      expect(done).toBe(false);
      expect(open.ended).toBe(false);
      await hub.close();
      await closed;
      expect(done).toBe(true);
      await open.waitForEnd();
    });

    it("with Fastify's default return503OnClosing, a request arriving during the drain gets Fastify's 503, which stops an EventSource for good", async () => {
      await start((app) => {
        app.addHook('preClose', () => hub.drain({ within: 400 }));
        app.get('/events', sse(hub));
      });
      // Several streams, so the drain (and the server with it) lasts its 400 ms.
      const open = await Promise.all(Array.from({ length: 4 }, () => stream()));
      await waitUntil(() => hub.size === 4, 'the streams');
      const closed = app.close();
      await sleep(50);
      const late = await stream();
      expect(late.status).toBe(503);
      expect(late.res.headers['x-ssehub-refused']).toBeUndefined();
      await closed;
      await Promise.all(open.map((s) => s.waitForEnd()));
    });
  });
});

describe('fastify 5 handlerTimeout', () => {
  it('does not cut a stream: the handler hijacks the reply, which clears the timer', async () => {
    const hub = createHub({ heartbeat: 0 });
    const app = Fastify({ handlerTimeout: 100 } as FastifyServerOptions);
    app.get('/events', sse(hub));
    app.get('/slow', async () => {
      await sleep(300);
      return 'late';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const s = await HttpStream.open(`${origin}/events`);
    try {
      // The timeout is on: an ordinary slow handler gets Fastify's 503.
      expect((await fetch(`${origin}/slow`)).status).toBe(503);
      await sleep(300);
      hub.broadcast({ data: 'still open' });
      await s.waitForEvents(1);
      expect(s.ended).toBe(false);
      expect(hub.size).toBe(1);
    } finally {
      s.close();
      await hub.close();
      app.server.closeAllConnections();
      await app.close();
    }
  });
});
