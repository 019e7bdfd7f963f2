/**
 * The HTTP publish/admin API, run against every adapter (on each supported major of its framework)
 * on a real server: publishes read back by real streams, access checks, and bad input that must
 * publish nothing.
 */
import { createHub, type Hub, type PublishOptions } from '@ssehub/core';
import { publish as expressPublish } from '@ssehub/express';
import { publish as koaPublish } from '@ssehub/koa';
import { publish as honoPublish } from '@ssehub/hono';
import { publish as fastifyPublish } from '@ssehub/fastify';
import { publish as fetchPublish } from '@ssehub/fetch';
import { FRAMEWORKS, startServer, type AdapterName, type Mounts, type TestServer } from '../src/servers';
import { HttpStream, fastifyHeader, waitUntil } from '../src/clients';

// Real servers on a shared CI machine: leave room beyond jest's 5 s default.
jest.setTimeout(20_000);

const TOKEN = 's3cret-token';

/** Mounts the publish API under /api, the way each framework's users would. */
function mountApi(hub: () => Hub, options: PublishOptions<any>): Mounts {
  return {
    express: (app) => app.use('/api', expressPublish(hub(), options)),
    koa: (app) => app.use(koaPublish(hub(), { ...options, prefix: '/api' })),
    hono: (app) => app.use('/api/*', honoPublish(hub(), { ...options, prefix: '/api' })),
    fastify: (app) => void app.register(fastifyPublish(hub(), options), { prefix: '/api' }),
    fetch: (app) => app.route('/api/*', fetchPublish(hub(), { ...options, prefix: '/api' })),
  };
}

describe.each(FRAMEWORKS)('$name publish API', (framework) => {
  const { adapter } = framework;
  let hub: Hub;
  let server: TestServer;
  const streams: HttpStream[] = [];

  async function setup(options: PublishOptions<any> = { token: TOKEN }): Promise<void> {
    hub = createHub({ heartbeat: 0 });
    server = await startServer(framework, hub, { mount: mountApi(() => hub, options) });
  }
  async function stream(query = ''): Promise<HttpStream> {
    const s = await HttpStream.open(`${server.origin}/events${query}`);
    streams.push(s);
    return s;
  }
  function call(method: string, path: string, init: { body?: string; headers?: Record<string, string>; token?: string | null } = {}) {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== null) headers.Authorization = `Bearer ${init.token ?? TOKEN}`;
    if (init.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json';
    }
    return fetch(`${server.origin}/api${path}`, { method, headers, body: init.body });
  }
  const post = (path: string, body: unknown, init: Parameters<typeof call>[2] = {}) =>
    call('POST', path, { ...init, body: typeof body === 'string' ? body : JSON.stringify(body) });

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await hub.close();
    await server.close();
  });

  describe('publishing', () => {
    it('POST /broadcast reaches every stream and answers 201 with the event id', async () => {
      await setup();
      const a = await stream();
      const b = await stream('?channel=room');
      await waitUntil(() => hub.size === 2, 'two streams');
      const res = await post('/broadcast', { event: 'note', data: { text: 'hi' } });
      expect(res.status).toBe(201);
      const body = (await res.json()) as { id: string; consumers: number };
      expect(body.consumers).toBe(2);
      expect(body.id).toBe(hub.lastEventId);
      for (const s of [a, b]) {
        await s.waitForEvents(1);
        expect(s.events).toEqual([{ event: 'note', data: '{"text":"hi"}', id: body.id }]);
      }
    });

    it('POST /channels/:channel reaches that channel only, with the given id, event and retry', async () => {
      await setup();
      const inRoom = await stream('?channel=room%201');
      const outside = await stream('?channel=other');
      await waitUntil(() => hub.size === 2, 'two streams');
      const res = await post('/channels/room%201', { id: 'a-1', event: 'chat', data: 'line one\nline two', retry: 2500 });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ id: 'a-1', consumers: 1 });
      await post('/broadcast', { data: 'everyone' });
      await inRoom.waitForEvents(2);
      await outside.waitForEvents(1);
      expect(inRoom.events[0]).toEqual({ event: 'chat', data: 'line one\nline two', id: 'a-1' });
      expect(inRoom.retries).toEqual([2500]);
      expect(outside.events.map((e) => e.data)).toEqual(['everyone']);
    });

    it('POST /clients/:clientId reaches that client id only, and accepts a numeric id', async () => {
      await setup();
      const alice = await stream('?id=alice');
      const bob = await stream('?id=bob');
      await waitUntil(() => hub.size === 2, 'two streams');
      const res = await post('/clients/alice', { id: 123, data: 'for alice' });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ id: '123', consumers: 1 });
      await post('/broadcast', { data: 'everyone' });
      await alice.waitForEvents(2);
      await bob.waitForEvents(1);
      expect(alice.events[0]).toEqual({ event: 'message', data: 'for alice', id: '123' });
      expect(bob.events.map((e) => e.data)).toEqual(['everyone']);
    });

    it('uses a body that upstream JSON middleware already parsed', async () => {
      hub = createHub({ heartbeat: 0 });
      const mounts: Mounts = {
        express: (app) => {
          const express = require('express') as typeof import('express');
          app.use(express.json());
          // Skips the +json type below: the body is left unread, with `{}` in req.body on Express 4.
          app.use((req, _res, next) => {
            req.body ??= {};
            next();
          });
          app.use('/api', expressPublish(hub, { token: TOKEN }));
        },
        koa: (app) => {
          app.use(async (ctx, next) => {
            // A minimal body parser, as koa-bodyparser would leave it.
            const chunks: Buffer[] = [];
            for await (const c of ctx.req) chunks.push(c as Buffer);
            if (chunks.length) (ctx.request as { body?: unknown }).body = JSON.parse(Buffer.concat(chunks).toString());
            await next();
          });
          app.use(koaPublish(hub, { token: TOKEN, prefix: '/api' }));
        },
        hono: (app) => app.use('/api/*', honoPublish(hub, { token: TOKEN, prefix: '/api' })),
        fastify: (app) => {
          // The app's own parser for the +json type: the plugin's scope reads every body itself.
          app.addContentTypeParser('application/vnd.ssehub+json', { parseAs: 'string' }, (_request, body, done) => done(null, { data: 'parsed by the app' }));
          void app.register(fastifyPublish(hub, { token: TOKEN }), { prefix: '/api' });
        },
        // No framework parses bodies in front of a Fetch handler: it reads the body itself.
        fetch: (app) => app.route('/api/*', fetchPublish(hub, { token: TOKEN, prefix: '/api' })),
      };
      server = await startServer(framework, hub, { mount: mounts });
      const s = await stream();
      await waitUntil(() => hub.size === 1, 'a stream');
      const res = await post('/broadcast', { data: 'parsed' });
      expect(res.status).toBe(201);
      const vendor = await post('/broadcast', { data: 'unparsed' }, { headers: { 'Content-Type': 'application/vnd.ssehub+json' } });
      expect(vendor.status).toBe(201);
      await s.waitForEvents(2);
      expect(s.events.map((e) => e.data)).toEqual(['parsed', 'unparsed']);
    });
  });

  describe('admin', () => {
    it('HEAD answers consumer counts and channels in headers, GET as JSON', async () => {
      await setup();
      await stream('?channel=room&id=carol');
      await stream('?channel=room&channel=a%2Cb');
      await waitUntil(() => hub.size === 2, 'two streams');

      const head = await call('HEAD', '/channels/room');
      expect(head.status).toBe(200);
      expect(head.headers.get('x-consumer-count')).toBe('2');
      expect(head.headers.get('x-channel-exists')).toBe('true');
      expect(head.headers.get('x-available-channels')!.split(',').map(decodeURIComponent).sort()).toEqual(['a,b', 'room']);
      expect(await head.text()).toBe('');

      const none = await call('HEAD', '/channels/empty');
      expect(none.headers.get('x-consumer-count')).toBe('0');
      expect(none.headers.get('x-channel-exists')).toBe('false');

      const root = await call('GET', '/');
      expect(root.status).toBe(200);
      expect(await root.json()).toEqual({ consumers: 2, channels: expect.arrayContaining(['room', 'a,b']), lastEventId: null });

      const client = await call('GET', '/clients/carol');
      expect(await client.json()).toMatchObject({ clientId: 'carol', connected: true, consumers: 1 });
      const rootHead = await call('HEAD', '');
      expect(rootHead.headers.get('x-consumer-count')).toBe('2');
    });

    it('caps X-Available-Channels, while GET lists every channel', async () => {
      await setup();
      const names = Array.from({ length: 50 }, (_, i) => `channel-${String(i).padStart(3, '0')}-${'x'.repeat(100)}`);
      await stream('?' + names.map((n) => `channel=${n}`).join('&'));
      await waitUntil(() => hub.size === 1, 'a stream');
      const head = await call('HEAD', '/');
      const listed = head.headers.get('x-available-channels')!.split(',');
      expect(head.headers.get('x-available-channels')!.length).toBeLessThanOrEqual(4096);
      expect(listed.length).toBeGreaterThan(10);
      expect(listed.length).toBeLessThan(50);
      expect(head.headers.get('x-available-channels-truncated')).toBe('true');
      const all = (await (await call('GET', '/')).json()) as { channels: string[] };
      expect(all.channels.sort()).toEqual(names);
    });

    it('DELETE /channels/:channel ends that channel\'s streams only', async () => {
      await setup();
      const inRoom = await stream('?channel=room');
      const other = await stream('?channel=other');
      await waitUntil(() => hub.size === 2, 'two streams');
      const res = await call('DELETE', '/channels/room');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ closed: 1 });
      await inRoom.waitForEnd();
      expect(hub.channelSize('room')).toBe(0);
      expect(other.ended).toBe(false);
      expect(hub.size).toBe(1);
    });

    it('DELETE /clients/:clientId ends that client id\'s streams', async () => {
      await setup();
      const a1 = await stream('?id=alice');
      const a2 = await stream('?id=alice');
      const bob = await stream('?id=bob');
      await waitUntil(() => hub.size === 3, 'three streams');
      const res = await call('DELETE', '/clients/alice');
      expect(await res.json()).toEqual({ closed: 2 });
      await a1.waitForEnd();
      await a2.waitForEnd();
      expect(bob.ended).toBe(false);
    });
  });

  describe('access', () => {
    it('answers 401 with a Bearer challenge without a token, 403 with a wrong one, and publishes nothing', async () => {
      await setup();
      const s = await stream();
      await waitUntil(() => hub.size === 1, 'a stream');
      const missing = await post('/broadcast', { data: 'x' }, { token: null });
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      const wrong = await post('/broadcast', { data: 'x' }, { token: TOKEN + 'x' });
      expect(wrong.status).toBe(403);
      const basic = await post('/broadcast', { data: 'x' }, { token: null, headers: { Authorization: `Basic ${TOKEN}` } });
      expect(basic.status).toBe(401);
      // Admin routes are guarded as well, and an unknown route does not tell itself apart.
      expect((await call('DELETE', '/channels/x', { token: 'nope' })).status).toBe(403);
      expect((await call('GET', '/', { token: null })).status).toBe(401);
      expect((await call('GET', '/channels/a/b', { token: null })).status).toBe(401);
      expect(hub.lastEventId).toBeUndefined();
      expect(s.events).toEqual([]);
    });

    it('accepts any of several tokens', async () => {
      await setup({ token: ['old-token', TOKEN] });
      expect((await post('/broadcast', { data: 1 }, { token: 'old-token' })).status).toBe(201);
      expect((await post('/broadcast', { data: 2 })).status).toBe(201);
      expect((await post('/broadcast', { data: 3 }, { token: 'old' })).status).toBe(403);
    });

    it('runs an authorize hook that sees the framework request', async () => {
      const role: Record<AdapterName, (req: any) => string | undefined> = {
        express: (req) => req.header('x-role'),
        koa: (ctx) => ctx.get('x-role') || undefined,
        hono: (c) => c.req.header('x-role'),
        fastify: (request) => fastifyHeader(request, 'x-role'),
        fetch: (request: Request) => request.headers.get('x-role') ?? undefined,
      };
      await setup({
        authorize: async (req) => {
          const r = role[adapter](req);
          if (r === undefined) return { status: 401, message: 'who are you?' };
          return r === 'admin';
        },
      });
      const anonymous = await post('/broadcast', { data: 'x' }, { token: null });
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toEqual({ error: 'who are you?' });
      expect((await post('/broadcast', { data: 'x' }, { token: null, headers: { 'X-Role': 'guest' } })).status).toBe(403);
      expect(hub.lastEventId).toBeUndefined();
      expect((await post('/broadcast', { data: 'x' }, { token: null, headers: { 'X-Role': 'admin' } })).status).toBe(201);
    });

    it('refuses to create an API with no access check unless it is made public explicitly', async () => {
      hub = createHub({ heartbeat: 0 });
      const make = { express: expressPublish, koa: koaPublish, hono: honoPublish, fastify: fastifyPublish, fetch: fetchPublish }[adapter] as (h: Hub, o: object) => unknown;
      expect(() => make(hub, {})).toThrow(TypeError);
      expect(() => make(hub, { token: '' })).toThrow(TypeError);
      expect(() => make(hub, { public: false })).toThrow(TypeError);
      server = await startServer(framework, hub, { mount: mountApi(() => hub, { public: true }) });
      expect((await post('/broadcast', { data: 'open' }, { token: null })).status).toBe(201);
    });

    it('answers a CORS preflight for an allowed origin only', async () => {
      await setup({ token: TOKEN, cors: { origins: ['https://app.example'] } });
      const ok = await call('OPTIONS', '/broadcast', {
        token: null,
        headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
      });
      expect(ok.status).toBe(204);
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(ok.headers.get('access-control-allow-methods')).toBe('POST');
      expect(ok.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type');
      const evil = await call('OPTIONS', '/broadcast', { token: null, headers: { Origin: 'https://evil.example' } });
      expect(evil.status).toBe(403);
      expect(evil.headers.get('access-control-allow-origin')).toBeNull();
      const posted = await post('/broadcast', { data: 'x' }, { headers: { Origin: 'https://evil.example' } });
      expect(posted.status).toBe(403);
      expect(hub.lastEventId).toBeUndefined();
    });
  });

  describe('bad input publishes nothing', () => {
    let s: HttpStream;
    beforeEach(async () => {
      await setup({ token: TOKEN, maxBodyBytes: 1024 });
      s = await stream('?id=alice&channel=room');
      await waitUntil(() => hub.size === 1, 'a stream');
    });
    afterEach(() => {
      expect(hub.lastEventId).toBeUndefined();
      expect(s.events).toEqual([]);
    });

    it.each([
      ['invalid JSON', '{"data": ', 400, undefined],
      ['not an object', '["data"]', 400, undefined],
      ['no data', '{"event":"x"}', 400, 'data'],
      ['an event with LF', '{"data":1,"event":"a\\nid: 9"}', 400, 'event'],
      ['an event with CR', '{"data":1,"event":"a\\r"}', 400, 'event'],
      ['an id with NUL', '{"data":1,"id":"7\\u0000"}', 400, 'id'],
      ['an id with CRLF', '{"data":1,"id":"7\\r\\n\\r\\ndata: forged"}', 400, 'id'],
      ['an empty id', '{"data":1,"id":""}', 400, 'id'],
      ['a fractional id', '{"data":1,"id":1.5}', 400, 'id'],
      ['a negative retry', '{"data":1,"retry":-1}', 400, 'retry'],
      ['a string retry', '{"data":1,"retry":"1000"}', 400, 'retry'],
      ['a lone surrogate in data', '{"data":"\\ud800"}', 400, 'data'],
    ])('%s: %s', async (_name, body, status, field) => {
      for (const path of ['/broadcast', '/channels/room', '/clients/alice']) {
        const res = await post(path, body);
        expect(res.status).toBe(status);
        const json = (await res.json()) as { error: string; field?: string };
        expect(json.error).toEqual(expect.any(String));
        expect(json.field).toBe(field);
      }
    });

    it('answers 400 for a body that is not UTF-8', async () => {
      const res = await fetch(`${server.origin}/api/broadcast`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: new Uint8Array([0x7b, 0x22, 0x64, 0x22, 0x3a, 0xff, 0x7d]),
      });
      expect(res.status).toBe(400);
    });

    it('answers 415 for a body that is not declared JSON', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonp']) {
        const res = await post('/broadcast', '{"data":1}', { headers: { 'Content-Type': type } });
        expect(res.status).toBe(415);
      }
      const none = await fetch(`${server.origin}/api/broadcast`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}` },
        body: new Blob(['{"data":1}']),
      });
      expect(none.status).toBe(415);
    });

    it('answers 413 for a body over the limit, declared or streamed, and keeps serving', async () => {
      const big = JSON.stringify({ data: 'x'.repeat(2000) });
      expect((await post('/broadcast', big)).status).toBe(413);
      // Chunked, so the size is only found while reading.
      const chunked = await fetch(`${server.origin}/api/broadcast`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(big));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(chunked.status).toBe(413);
      expect((await call('GET', '/')).status).toBe(200);
    });

    it('answers 404 for unknown routes and 405 with Allow for other methods', async () => {
      for (const path of ['/channels', '/channels/', '/channels/a/b', '/clients/a/b', '/broadcast/x', '/clients']) {
        expect([path, (await post(path, { data: 1 })).status]).toEqual([path, 404]);
      }
      const put = await call('PUT', '/channels/room', { body: '{"data":1}' });
      expect(put.status).toBe(405);
      expect(put.headers.get('allow')).toBe('GET, HEAD, POST, DELETE, OPTIONS');
      const get = await call('GET', '/broadcast');
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST, OPTIONS');
      const del = await call('DELETE', '/');
      expect(del.status).toBe(405);
      expect(del.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    });

    it("passes paths outside its own segments to the app's other routes", async () => {
      const hub2 = createHub({ heartbeat: 0 });
      const other: Mounts = {
        express: (app) => {
          app.use('/api', expressPublish(hub2, { token: TOKEN }));
          app.get('/api/users', (_req, res) => void res.json(['ann']));
        },
        koa: (app, router) => {
          app.use(koaPublish(hub2, { token: TOKEN, prefix: '/api' }));
          router.get('/api/users', (ctx) => void (ctx.body = ['ann']));
        },
        hono: (app) => {
          app.use('/api/*', honoPublish(hub2, { token: TOKEN, prefix: '/api' }));
          app.get('/api/users', (c) => c.json(['ann']));
        },
        fastify: (app) => {
          void app.register(fastifyPublish(hub2, { token: TOKEN }), { prefix: '/api' });
          app.get('/api/users', async () => ['ann']);
        },
        // No next handler: the app's own route is matched first (as a Next.js app router would), and
        // the API answers 404 itself for paths outside its segments.
        fetch: (app) => {
          app.route('/api/users', () => Response.json(['ann']));
          app.route('/api/*', fetchPublish(hub2, { token: TOKEN, prefix: '/api' }));
        },
      };
      const server2 = await startServer(framework, hub2, { mount: other });
      try {
        const users = await fetch(`${server2.origin}/api/users`);
        expect(users.status).toBe(200);
        expect(await users.json()).toEqual(['ann']);
        expect((await fetch(`${server2.origin}/api/nope`, { method: 'POST' })).status).toBe(404);
        expect((await fetch(`${server2.origin}/api/channels/x`, { method: 'POST' })).status).toBe(401);
      } finally {
        await hub2.close();
        await server2.close();
      }
    });

    it('answers 503 once the hub is closed', async () => {
      await hub.close();
      const res = await post('/broadcast', { data: 1 });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: 'the hub is closed' });
    });

    it('answers 400 for a channel name with a line break or bad percent-encoding', async () => {
      expect((await post('/channels/a%0Ab', { data: 1 })).status).toBe(400);
      expect((await post('/clients/%E0%A4%A', { data: 1 })).status).toBe(400);
    });
  });
});
