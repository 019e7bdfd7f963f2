/**
 * Compression: the stream's own gzip (flushed after every event), and compression middleware in
 * front of the stream (Express `compression`, `koa-compress`, Hono's `compress`, `@fastify/compress`, and
 * `compression` in front of a Fetch handler, as Next.js has it). Either way each
 * event must reach the client before the next one is sent. On each supported major of every framework.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import compression from 'compression';
import koaCompress from 'koa-compress';
import { compress as honoCompress } from 'hono/compress';
import { createParser } from 'eventsource-parser';
import { Hono } from 'hono';
import type { FastifyInstance } from 'fastify';
import { createHub, type Hub, type StreamOptions } from '@ssehub/core';
import { sse as honoSse } from '@ssehub/hono';
import { FRAMEWORKS, startServer, type FetchApp, type Mounts, type TestServer } from '../src/servers';
import { waitUntil } from '../src/clients';

// Real servers on a shared CI machine: leave room beyond jest's 5 s default.
jest.setTimeout(20_000);

/** `@fastify/compress` for the app's Fastify major: 9 on Fastify 5, 7 on Fastify 4. */
function fastifyCompress(app: FastifyInstance): Parameters<FastifyInstance['register']>[0] {
  return app.version.startsWith('4.') ? require('fastify-compress-7') : require('@fastify/compress');
}
/** `compression` as plain Node middleware, in front of the Fetch bridge. */
const nodeCompression = compression({ threshold: 0 }) as unknown as Parameters<FetchApp['node']>[0];

/** A stream read by Node's HTTP client that gunzips when the server says it gzipped. */
class DecodingStream {
  readonly data: string[] = [];
  wireBytes = 0;
  private constructor(
    readonly res: http.IncomingMessage,
    private readonly req: http.ClientRequest,
  ) {
    const parser = createParser({ onEvent: (e) => this.data.push(e.data) });
    const encoding = res.headers['content-encoding'];
    res.on('data', (b: Buffer) => (this.wireBytes += b.length));
    // A sync flush ends each event on a byte boundary; finishFlush lets a cut-off stream decode too.
    const body = encoding === 'gzip' ? res.pipe(zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH })) : res;
    body.setEncoding('utf8');
    body.on('data', (text: string) => parser.feed(text));
    body.on('error', () => undefined);
  }

  static open(url: string, acceptEncoding: string | undefined): Promise<DecodingStream> {
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (acceptEncoding !== undefined) headers['Accept-Encoding'] = acceptEncoding;
    return new Promise((resolve, reject) => {
      const req = http.get(url, { headers }, (res) => resolve(new DecodingStream(res, req)));
      req.on('error', reject);
    });
  }

  close(): void {
    this.req.destroy();
  }
}

describe.each(FRAMEWORKS)('$name compression', (framework) => {
  let hub: Hub;
  let server: TestServer;
  const streams: DecodingStream[] = [];

  async function setup(sse: StreamOptions<any>, mount?: Mounts): Promise<void> {
    hub = createHub({ heartbeat: 0 });
    server = await startServer(framework, hub, { sse, mount });
  }
  async function open(acceptEncoding: string | undefined): Promise<DecodingStream> {
    const s = await DecodingStream.open(`${server.origin}/events`, acceptEncoding);
    streams.push(s);
    await waitUntil(() => hub.size === streams.length, 'the stream to register');
    return s;
  }
  /** Sends events one by one, each only after the client has read the one before. */
  async function expectEachAtOnce(s: DecodingStream, n = 5): Promise<void> {
    for (let i = 0; i < n; i++) {
      const text = `event ${i} ` + 'é'.repeat(i * 40);
      hub.broadcast({ data: text });
      await waitUntil(() => s.data.length === i + 1, `event ${i} to arrive before the next is sent`, 3000);
      expect(s.data[i]).toBe(text);
    }
  }

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await hub.close();
    await server.close();
  });

  it('compress: true gzips for a client that accepts gzip, flushing every event', async () => {
    await setup({ compress: true });
    const s = await open('gzip, deflate');
    expect(s.res.headers['content-encoding']).toBe('gzip');
    expect(s.res.headers['vary']).toBe('Accept-Encoding');
    expect(s.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await expectEachAtOnce(s);
  });

  it('compress: true sends plain bytes to a client that does not accept gzip', async () => {
    await setup({ compress: true });
    for (const accept of [undefined, 'identity', 'gzip;q=0, deflate', 'br']) {
      const s = await open(accept);
      expect([accept, s.res.headers['content-encoding']]).toEqual([accept, undefined]);
    }
    hub.broadcast({ data: 'plain' });
    for (const s of streams) await waitUntil(() => s.data.length === 1, 'the event');
  });

  it('gzip really compresses a repetitive stream', async () => {
    await setup({ compress: true });
    const s = await open('gzip');
    const text = JSON.stringify({ symbol: 'ACME', price: 100, volume: 5000, venue: 'XNYS' });
    for (let i = 0; i < 200; i++) hub.broadcast({ data: text });
    await waitUntil(() => s.data.length === 200, '200 events', 5000);
    const plainBytes = 200 * Buffer.byteLength(`id: ${hub.lastEventId}\ndata: ${text}\n\n`);
    expect(s.wireBytes).toBeLessThan(plainBytes / 2);
  });

  it('compression middleware in front does not hold events back', async () => {
    const mount: Mounts = {
      express: (app) => app.use(compression({ threshold: 0 })),
      koa: (app) => app.use(koaCompress({ threshold: 0 })),
      hono: (app) => app.use(honoCompress()),
      fastify: (app) => void app.register(fastifyCompress(app), { threshold: 0 }),
      // The compression Next.js puts in front of its route handlers (`compress`, on by default) is this package.
      fetch: (app) => app.node(nodeCompression),
    };
    await setup({}, mount);
    const s = await open('gzip, deflate, br');
    await expectEachAtOnce(s);
  });

  it('compression middleware in front and compress: true gzip only once', async () => {
    const mount: Mounts = {
      express: (app) => app.use(compression({ threshold: 0 })),
      koa: (app) => app.use(koaCompress({ threshold: 0 })),
      hono: (app) => app.use(honoCompress()),
      fastify: (app) => void app.register(fastifyCompress(app), { threshold: 0 }),
      // The compression Next.js puts in front of its route handlers (`compress`, on by default) is this package.
      fetch: (app) => app.node(nodeCompression),
    };
    await setup({ compress: true }, mount);
    const s = await open('gzip');
    await expectEachAtOnce(s, 3);
  });
});

/** The middleware does compress ordinary routes of the same app, so the tests above are meaningful. */
describe('compression middleware is active on other routes', () => {
  it.each(FRAMEWORKS)('$name', async (framework) => {
    const hub = createHub({ heartbeat: 0 });
    const big = 'x'.repeat(4096);
    const mount: Mounts = {
      express: (app) => {
        app.use(compression({ threshold: 0 }));
        app.get('/big', (_req, res) => void res.type('text/plain').send(big));
      },
      koa: (app, router) => {
        app.use(koaCompress({ threshold: 0 }));
        router.get('/big', (ctx) => {
          ctx.type = 'text/plain';
          ctx.body = big;
        });
      },
      hono: (app) => {
        app.use(honoCompress());
        app.get('/big', (c) => c.text(big));
      },
      fastify: (app) => {
        // A Fastify plugin's hooks apply to the routes added after it has loaded.
        void app.register(fastifyCompress(app), { threshold: 0 }).after(() => {
          app.get('/big', async (_request, reply) => reply.type('text/plain').send(big));
        });
      },
      fetch: (app) => {
        app.node(nodeCompression);
        app.route('/big', () => new Response(big, { headers: { 'Content-Type': 'text/plain' } }));
      },
    };
    const server = await startServer(framework, hub, { mount });
    try {
      const encoding = await new Promise<string | undefined>((resolve, reject) => {
        http
          .get(`${server.origin}/big`, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
            res.resume();
            resolve(res.headers['content-encoding']);
          })
          .on('error', reject);
      });
      expect(encoding).toBe('gzip');
    } finally {
      await hub.close();
      await server.close();
    }
  });
});

/** Hono with no Node server underneath (as on a worker): the Web stream path and its gzip sink. */
describe('Web stream path', () => {
  it('gzips with a flush after every event and releases the client when the reader cancels', async () => {
    const hub = createHub({ heartbeat: 0 });
    const app = new Hono();
    app.get('/events', honoSse(hub, { compress: true }));
    try {
      const res = await app.request('/events', { headers: { 'Accept-Encoding': 'gzip' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-encoding')).toBe('gzip');
      expect(res.headers.get('vary')).toBe('Accept-Encoding');
      const data: string[] = [];
      let text = '';
      const parser = createParser({ onEvent: (e) => data.push(e.data) });
      const gunzip = zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
      gunzip.setEncoding('utf8');
      gunzip.on('data', (t: string) => ((text += t), parser.feed(t)));
      const reader = res.body!.getReader();
      void (async () => {
        for (;;) {
          const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
          if (done) break;
          gunzip.write(value);
        }
      })();
      // The lead comes through the compressor at once, before any event.
      await waitUntil(() => text === ':\n', 'the compressed lead', 3000);
      for (let i = 0; i < 5; i++) {
        hub.broadcast({ data: `web ${i} ` + 'ü'.repeat(i * 30) });
        await waitUntil(() => data.length === i + 1, `web event ${i} before the next is sent`, 3000);
      }
      expect(data[4]).toBe('web 4 ' + 'ü'.repeat(120));
      expect(hub.size).toBe(1);
      await reader.cancel();
      await waitUntil(() => hub.size === 0, 'the client to be released');
      gunzip.destroy();
    } finally {
      await hub.close();
    }
  });

  it('sends plain bytes when the client does not accept gzip', async () => {
    const hub = createHub({ heartbeat: 0 });
    const app = new Hono();
    app.get('/events', honoSse(hub, { compress: true }));
    const res = await app.request('/events');
    expect(res.headers.get('content-encoding')).toBeNull();
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(':\n');
    hub.broadcast({ data: 'plain' });
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/data: plain\n\n$/);
    await reader.cancel();
    await hub.close();
  });
});
