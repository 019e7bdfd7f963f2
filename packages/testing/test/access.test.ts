/**
 * Access control on the stream side, against every adapter on each supported major of its
 * framework, on a real server: `authorize` before any stream opens, identity and replay that follow
 * the server's grant, CORS, and limits.
 */
import { createHub, type Hub, type HubOptions, type StreamOptions } from '@ssehub/core';
import { sse as expressSse } from '@ssehub/express';
import { sse as koaSse } from '@ssehub/koa';
import { sse as honoSse } from '@ssehub/hono';
import { sse as fastifySse } from '@ssehub/fastify';
import { sse as fetchSse } from '@ssehub/fetch';
import { FRAMEWORKS, startServer, type AdapterName, type Mounts, type TestServer } from '../src/servers';
import { EsClient, HttpStream, fastifyHeader, waitUntil } from '../src/clients';

// Real servers on a shared CI machine: leave room beyond jest's 5 s default.
jest.setTimeout(20_000);

/** Reads a request header from each framework's request object. */
const header: Record<AdapterName, (req: any, name: string) => string | undefined> = {
  express: (req, name) => req.header(name) ?? undefined,
  koa: (ctx, name) => ctx.get(name) || undefined,
  hono: (c, name) => c.req.header(name),
  fastify: (req, name) => fastifyHeader(req, name),
  fetch: (request: Request, name) => request.headers.get(name) ?? undefined,
};

/** A toy session store: the bearer token names the user and the channels they may join. */
const SESSIONS: Record<string, { user: string; channels: string[] }> = {
  'token-alice': { user: 'alice', channels: ['lobby', 'alice-room'] },
  'token-mallory': { user: 'mallory', channels: ['lobby'] },
};

describe.each(FRAMEWORKS)('$name stream access', (framework) => {
  const { adapter } = framework;
  let hub: Hub;
  let server: TestServer;
  const closers: (() => void)[] = [];
  let connects = 0;

  async function setup(sse: StreamOptions<any>, hubOptions: HubOptions = {}, mount?: Mounts): Promise<void> {
    hub = createHub({ heartbeat: 0, ...hubOptions });
    connects = 0;
    hub.on('connect', () => connects++);
    server = await startServer(framework, hub, { sse, mount });
  }
  async function stream(query = '', headers: Record<string, string> = {}): Promise<HttpStream> {
    const s = await HttpStream.open(`${server.origin}/events${query}`, headers);
    closers.push(() => s.close());
    return s;
  }
  const sessionAuthorize: StreamOptions<any>['authorize'] = async (req) => {
    const auth = header[adapter](req, 'authorization');
    if (!auth) return { status: 401, message: 'log in first' };
    const session = SESSIONS[auth.replace(/^Bearer /, '')];
    if (!session) return false;
    return { clientId: session.user, channels: session.channels };
  };

  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await hub.close();
    await server.close();
  });

  describe('authorize', () => {
    it('refuses with 401 or 403 before any stream opens, registering nothing', async () => {
      await setup({ authorize: sessionAuthorize });
      const anonymous = await stream();
      expect(anonymous.status).toBe(401);
      expect(anonymous.res.headers['content-type']).toMatch(/^text\/plain/);
      await anonymous.waitForEnd();
      expect(anonymous.raw).toBe('ssehub: log in first\n');
      const forged = await stream('', { Authorization: 'Bearer token-nobody' });
      expect(forged.status).toBe(403);
      await forged.waitForEnd();
      hub.broadcast({ data: 'after' });
      expect(connects).toBe(0);
      expect(hub.size).toBe(0);
      expect(forged.events).toEqual([]);
    });

    it('fails closed when the hook returns nothing, and answers 500 with no stream when it throws', async () => {
      await setup({
        authorize: ((req: any) => {
          if (header[adapter](req, 'x-throw')) throw new Error('session store down');
          if (header[adapter](req, 'x-odd')) return { status: 302, clientId: 'admin' };
          return undefined;
        }) as any,
      });
      const s = await stream();
      expect(s.status).toBe(403);
      const odd = await stream('', { 'X-Odd': '1' });
      expect(odd.status).toBe(403);
      const failed = await stream('', { 'X-Throw': '1' });
      expect(failed.status).toBe(500);
      // The framework's (or, for a Fetch handler, the runtime's) error answer: no content type, or not a stream's.
      expect(failed.res.headers['content-type'] ?? '').not.toMatch(/event-stream/);
      expect(connects).toBe(0);
    });

    it('the real EventSource stops for good on 401 instead of reconnecting', async () => {
      await setup({ authorize: sessionAuthorize });
      const c = new EsClient(`${server.origin}/events`);
      closers.push(() => c.close());
      await waitUntil(() => c.es.readyState === 2, 'the EventSource to close');
      expect(c.opens).toBe(0);
      expect(connects).toBe(0);
    });

    it('the server\'s identity replaces ?id= and the requested channels are narrowed to the granted ones', async () => {
      await setup({ authorize: sessionAuthorize });
      // Mallory asks to be alice and to join alice's room.
      const mallory = await stream('?id=alice&channel=alice-room&channel=lobby', { Authorization: 'Bearer token-mallory' });
      const alice = await stream('?channel=alice-room', { Authorization: 'Bearer token-alice' });
      expect(mallory.status).toBe(200);
      await waitUntil(() => hub.size === 2, 'two streams');
      const [m, a] = hub.clients().sort((x, y) => Number(x.id) - Number(y.id));
      expect(m!.clientId).toBe('mallory');
      expect([...m!.channels]).toEqual(['lobby']);
      expect(a!.clientId).toBe('alice');
      expect([...a!.channels]).toEqual(['alice-room']);

      hub.broadcastTo('alice', { data: 'alice private' });
      hub.broadcast({ data: 'alice room', channel: 'alice-room' });
      hub.broadcast({ data: 'lobby', channel: 'lobby' });
      await alice.waitForEvents(2);
      await mallory.waitForEvents(1);
      expect(alice.events.map((e) => e.data)).toEqual(['alice private', 'alice room']);
      expect(mallory.events.map((e) => e.data)).toEqual(['lobby']);
    });

    it('replay follows the grant: never history of a channel or client id the stream may not see', async () => {
      await setup({ authorize: sessionAuthorize });
      const first = hub.broadcast({ data: 'start' });
      hub.broadcastTo('alice', { data: 'alice private' });
      hub.broadcast({ data: 'alice room', channel: 'alice-room' });
      hub.broadcast({ data: 'lobby 1', channel: 'lobby' });
      hub.broadcastTo('mallory', { data: 'mallory private' });
      const last = hub.broadcast({ data: 'everyone' });

      const mallory = await stream('?id=alice&channel=alice-room&channel=lobby', {
        Authorization: 'Bearer token-mallory',
        'Last-Event-ID': first,
      });
      await mallory.waitForEvents(3);
      expect(mallory.events.map((e) => e.data)).toEqual(['lobby 1', 'mallory private', 'everyone']);
      expect(mallory.raw).not.toMatch(/alice/);

      const alice = await stream('?channel=alice-room', { Authorization: 'Bearer token-alice', 'Last-Event-ID': first });
      await alice.waitForEvents(3);
      expect(alice.events.map((e) => e.data)).toEqual(['alice private', 'alice room', 'everyone']);
      expect(alice.events.at(-1)!.id).toBe(last);
    });

    it('true keeps the usual resolvers', async () => {
      await setup({ authorize: (req) => header[adapter](req, 'x-ok') === 'yes' });
      expect((await stream('?id=zed', { 'X-Ok': 'no' })).status).toBe(403);
      const s = await stream('?id=zed', { 'X-Ok': 'yes' });
      expect(s.status).toBe(200);
      await waitUntil(() => hub.size === 1, 'a stream');
      expect(hub.clients()[0]!.clientId).toBe('zed');
    });
  });

  describe('CORS', () => {
    const cors = { origins: ['https://app.example'], credentials: true };
    /** Koa, Hono and Fastify route by method: the handler is mounted for OPTIONS as well. A Fetch handler gets every method. */
    function preflightMounts(options: StreamOptions<any>): Mounts {
      return {
        koa: (_app, router) => router.options('/events', koaSse(hub, options)),
        hono: (app) => app.options('/events', honoSse(hub, options)),
        fastify: (app) => app.options('/events', fastifySse(hub, options)),
      };
    }
    async function setupCors(options: StreamOptions<any>): Promise<void> {
      hub = createHub({ heartbeat: 0 });
      connects = 0;
      hub.on('connect', () => connects++);
      server = await startServer(framework, hub, { sse: options, mount: preflightMounts(options) });
    }

    it('answers a preflight that allows Last-Event-ID, for an allowed origin only', async () => {
      await setupCors({ cors });
      const ok = await fetch(`${server.origin}/events`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'last-event-id' },
      });
      expect(ok.status).toBe(204);
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
      expect(ok.headers.get('access-control-allow-methods')).toBe('GET');
      expect(ok.headers.get('access-control-allow-headers')).toBe('Last-Event-ID');
      expect(ok.headers.get('access-control-max-age')).toBe('600');
      const evil = await fetch(`${server.origin}/events`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example' } });
      expect(evil.status).toBe(403);
      expect(evil.headers.get('access-control-allow-origin')).toBeNull();
      expect(connects).toBe(0);
    });

    it('echoes an allowed origin on the stream, never *, and refuses other origins with nothing registered', async () => {
      await setupCors({ cors });
      const ok = await stream('', { Origin: 'https://app.example' });
      expect(ok.status).toBe(200);
      expect(ok.res.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(ok.res.headers['access-control-allow-credentials']).toBe('true');
      expect(ok.res.headers['vary']).toMatch(/Origin/);
      expect(ok.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      const evil = await stream('', { Origin: 'https://evil.example' });
      expect(evil.status).toBe(403);
      expect(evil.res.headers['access-control-allow-origin']).toBeUndefined();
      await waitUntil(() => connects === 1, 'the allowed stream');
      expect(hub.size).toBe(1);
      // A request without Origin (same-origin, or not a browser) is served.
      expect((await stream()).status).toBe(200);
    });

    it("refuses to be created with '*' and credentials", () => {
      hub = createHub({ heartbeat: 0 });
      const make = { express: expressSse, koa: koaSse, hono: honoSse, fastify: fastifySse, fetch: fetchSse }[adapter] as (h: Hub, o: object) => unknown;
      expect(() => make(hub, { cors: { origins: '*', credentials: true } })).toThrow(/credentials/);
      expect(() => make(hub, { maxChannels: 0 })).toThrow(TypeError);
      expect(() => make(hub, { maxConnectionsPerClient: 1.5 })).toThrow(TypeError);
      server = { close: async () => undefined } as TestServer;
    });

    it("'*' without credentials allows any origin", async () => {
      await setupCors({ cors: { origins: '*' } });
      const s = await stream('', { Origin: 'https://anywhere.example' });
      expect(s.status).toBe(200);
      expect(s.res.headers['access-control-allow-origin']).toBe('*');
      expect(s.res.headers['access-control-allow-credentials']).toBeUndefined();
    });
  });

  describe('limits', () => {
    it('refuses past maxConnectionsPerClient, per client id: 429 with Retry-After, or a stream EventSource comes back from', async () => {
      await setup({ maxConnectionsPerClient: 2, retryAfter: 7 });
      const a1 = await stream('?id=a');
      await stream('?id=a');
      await waitUntil(() => hub.size === 2, 'two streams');
      // A request that does not ask for an event stream gets the status.
      const third = await stream('?id=a', { Accept: '*/*' });
      expect(third.status).toBe(429);
      expect(third.res.headers['retry-after']).toBe('7');
      expect(third.res.headers['x-ssehub-refused']).toBe('client-limit');
      // An EventSource gets a stream that sets retry: near 7 s and ends, with no event.
      const es = await stream('?id=a');
      expect(es.status).toBe(200);
      expect(es.res.headers['x-ssehub-refused']).toBe('client-limit');
      await es.waitForEnd();
      expect(es.events).toEqual([]);
      expect(es.retries[0]).toBeGreaterThanOrEqual(3500);
      expect(es.retries[0]).toBeLessThanOrEqual(10_500);
      expect((await stream('?id=b')).status).toBe(200);
      expect((await stream()).status).toBe(200);
      expect(hub.clientSize('a')).toBe(2);
      a1.close();
      await waitUntil(() => hub.clientSize('a') === 1, 'a slot to free');
      expect((await stream('?id=a')).status).toBe(200);
    });

    it('counts the granted client id, not the requested one', async () => {
      await setup({ maxConnectionsPerClient: 1, authorize: sessionAuthorize });
      expect((await stream('?id=x', { Authorization: 'Bearer token-alice' })).status).toBe(200);
      await waitUntil(() => hub.size === 1, 'a stream');
      expect((await stream('?id=y', { Authorization: 'Bearer token-alice', Accept: '*/*' })).status).toBe(429);
      expect((await stream('?id=y', { Authorization: 'Bearer token-mallory' })).status).toBe(200);
    });

    it('answers 400 for more channels than maxChannels, counting duplicates once', async () => {
      await setup({ maxChannels: 2 });
      const many = await stream('?channel=a&channel=b&channel=c');
      expect(many.status).toBe(400);
      await many.waitForEnd();
      expect(many.raw).toMatch(/too many channels/);
      expect((await stream('?channel=a&channel=b&channel=a')).status).toBe(200);
      await waitUntil(() => hub.size === 1, 'a stream');
      expect(connects).toBe(1);
    });

    it('treats a Last-Event-ID over the cap as unknown: a resync event, no replay', async () => {
      await setup({}, { maxLastEventIdLength: 16 });
      // An id the hub could never look up is refused when it is broadcast.
      expect(() => hub.broadcast({ data: 'one', id: 'a'.repeat(17) })).toThrow(TypeError);
      hub.broadcast({ data: 'one', id: 'a'.repeat(16) });
      hub.broadcast({ data: 'two' });
      const s = await stream('', { 'Last-Event-ID': 'a'.repeat(17) });
      await s.waitForEvents(1);
      expect(s.events[0]!.event).toBe('ssehub-resync');
      expect(JSON.parse(s.events[0]!.data)).toMatchObject({ reason: 'unknown-id', lastEventId: 'a'.repeat(16) });
      expect(s.raw).not.toMatch(/data: one|data: two/);
    });
  });
});
