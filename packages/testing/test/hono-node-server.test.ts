/**
 * The Hono handler on both majors of `@hono/node-server`, with the middleware apps put in front of
 * it. It must take the Node path (the head is on the wire before the handler's response is
 * returned), and the server must write nothing after it: no second head (ERR_HTTP_HEADERS_SENT in
 * the server log and the stream ended), the connection still usable for the next request.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server, ServerResponse } from 'node:http';
import { Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { createHub, type Hub } from '@ssehub/core';
import { encodeEvent } from '@ssehub/core/adapter';
import { sse, type SseOptions } from '@ssehub/hono';
import { HONO_NODE_SERVERS } from '../src/servers';
import { HttpStream, failOnUnhandledRejections, sleep, waitUntil } from '../src/clients';

failOnUnhandledRejections();

// node-server replaces these globals in serve() unless told not to; the tests below put them back
// where they need the platform's own.
const NATIVE = { Request: globalThis.Request, Response: globalThis.Response };

/** One chunk of a chunked HTTP/1.1 body. */
function chunk(bytes: Uint8Array): string {
  return `${bytes.byteLength.toString(16)}\r\n${Buffer.from(bytes).toString('latin1')}\r\n`;
}

/** Middleware put in front of the stream by the tests below. */
const FRONTS: [string, MiddlewareHandler][] = [
  ['cors() with an origin list (reads c.res, appends Vary after the handler)', cors({ origin: ['http://app.test'] })],
  ['cors() for any origin', cors()],
  [
    'a middleware setting a header after the handler',
    async (c, next) => {
      await next();
      c.header('X-After', 'late');
    },
  ],
  [
    'a middleware reading the response after the handler',
    async (c, next) => {
      await next();
      if (c.res.status !== 200) throw new Error(`status ${c.res.status}`);
    },
  ],
];

describe.each([2, 1])('Hono on @hono/node-server %i', (major) => {
  const serve = HONO_NODE_SERVERS[major]!;
  let hub: Hub;
  let server: Server;
  /** For each request to /events: whether the Node response's head was sent when Hono's response came back. */
  let headSentOnReturn: boolean[];
  let serverErrors: unknown[][];
  const closers: (() => void)[] = [];

  /** A Hono app on a real node-server: `fronts`, then the stream at /events, recording which path it took. */
  async function start(
    options: SseOptions = {},
    fronts: MiddlewareHandler[] = [],
    overrideGlobalObjects?: boolean,
    methods = ['GET'],
  ): Promise<void> {
    hub = createHub({ heartbeat: 0 });
    headSentOnReturn = [];
    const app = new Hono();
    for (const f of fronts) app.use('/events', f);
    const handler = sse(hub, options);
    // The only handler of the route when there is no middleware: Hono then returns its response as it is.
    app.on(methods, '/events', async (c) => {
      const res = await handler(c);
      headSentOnReturn.push((c.env as { outgoing: ServerResponse }).outgoing.headersSent);
      return res;
    });
    app.get('/other', (c) => c.text('nope', 404));
    server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', overrideGlobalObjects }, () => resolve(s as Server));
    });
  }
  const origin = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  async function stream(headers: Record<string, string> = {}): Promise<HttpStream> {
    const s = await HttpStream.open(`${origin()}/events`, headers);
    closers.push(() => s.close());
    return s;
  }
  function socket(): { socket: net.Socket; text: () => string } {
    const s = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    let text = '';
    s.on('data', (b: Buffer) => (text += b.toString('latin1')));
    closers.push(() => s.destroy());
    return { socket: s, text: () => text };
  }

  beforeEach(() => {
    // @hono/node-server logs what fails while it writes a response (ERR_HTTP_HEADERS_SENT) with console.error.
    serverErrors = [];
    jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void serverErrors.push(args));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    for (const close of closers.splice(0)) close();
    await hub.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });

  it('streams on the Node response with the headers of earlier middleware, and the server writes nothing after it', async () => {
    await start({ headers: { 'X-From-Options': 'also' } }, [
      async (c, next) => {
        c.header('X-From-Middleware', 'yes');
        await next();
      },
    ]);
    const { socket: s, text } = socket();
    s.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil(() => hub.size === 1 && text().includes('\r\n\r\n'), 'the stream to open');
    const head = text().slice(0, text().indexOf('\r\n\r\n')).toLowerCase();
    expect(head).toMatch(/^http\/1\.1 200 ok/);
    expect(head).toContain('content-type: text/event-stream; charset=utf-8');
    expect(head).toContain('x-from-middleware: yes');
    expect(head).toContain('x-from-options: also');
    expect(head).not.toContain('already-sent');
    await waitUntil(() => headSentOnReturn.length === 1, 'the handler to return');
    expect(headSentOnReturn).toEqual([true]);

    // The stream outlives the moment node-server handles the handler's response.
    await sleep(300);
    const id = hub.broadcast({ data: 'hi ü' });
    const event = chunk(encodeEvent({ data: 'hi ü' }, id));
    await waitUntil(() => text().endsWith(event), 'the event');
    await hub.close();
    await waitUntil(() => text().endsWith('0\r\n\r\n'), 'the end of the stream');
    expect(text().slice(text().indexOf('\r\n\r\n') + 4)).toBe('2\r\n:\n\r\n' + event + '0\r\n\r\n');

    // Nothing more was written for the handler's response, and the connection (Connection: close) ended with the stream.
    expect(head).toContain('connection: close');
    await waitUntil(() => s.destroyed || s.readableEnded, 'the connection to end');
    expect(text().slice(text().indexOf('\r\n\r\n') + 4)).toBe('2\r\n:\n\r\n' + event + '0\r\n\r\n');
    expect(serverErrors).toEqual([]);
  });

  it('with no middleware, takes the Node path and keeps the stream open', async () => {
    await start();
    const s = await stream();
    expect(s.status).toBe(200);
    await waitUntil(() => hub.size === 1 && headSentOnReturn.length === 1, 'the stream to open');
    expect(headSentOnReturn).toEqual([true]);
    await sleep(300);
    expect(s.ended).toBe(false);
    hub.broadcast({ data: 'one' });
    await s.waitForEvents(1);
    expect(s.events.map((e) => e.data)).toEqual(['one']);
    expect(serverErrors).toEqual([]);
  });

  it.each(FRONTS)('with %s in front, takes the Node path and keeps the stream open', async (_name, front) => {
    await start({}, [front]);
    const s = await stream({ Origin: 'http://app.test' });
    expect(s.status).toBe(200);
    expect(s.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await waitUntil(() => hub.size === 1 && headSentOnReturn.length === 1, 'the stream to open');
    expect(headSentOnReturn).toEqual([true]);
    await sleep(300);
    expect(s.ended).toBe(false);
    hub.broadcast({ data: 'one' });
    hub.broadcast({ data: 'two' });
    await s.waitForEvents(2);
    expect(s.events.map((e) => e.data)).toEqual(['one', 'two']);
    expect(hub.size).toBe(1);
    expect(serverErrors).toEqual([]);
  });

  it('sends the CORS headers cors() prepared with the stream', async () => {
    await start({}, [cors({ origin: ['http://app.test'], exposeHeaders: ['X-Exposed'] })]);
    const s = await stream({ Origin: 'http://app.test' });
    expect(s.res.headers['access-control-allow-origin']).toBe('http://app.test');
    expect(s.res.headers['access-control-expose-headers']).toBe('X-Exposed');
    hub.broadcast({ data: 'cross-origin' });
    await s.waitForEvents(1);
    expect(headSentOnReturn).toEqual([true]);
  });

  it('with overrideGlobalObjects: false (the platform Response), takes the Node path too', async () => {
    const installed = { Request: globalThis.Request, Response: globalThis.Response };
    Object.assign(globalThis, NATIVE);
    closers.push(() => Object.assign(globalThis, installed));
    await start({}, [cors()], false);
    expect(globalThis.Response).toBe(NATIVE.Response);
    const s = await stream();
    await waitUntil(() => headSentOnReturn.length === 1, 'the handler to return');
    expect(headSentOnReturn).toEqual([true]);
    await sleep(300);
    hub.broadcast({ data: 'native Response' });
    await s.waitForEvents(1);
    expect(s.events[0]!.data).toBe('native Response');
    expect(serverErrors).toEqual([]);
  });

  it('answers a refusal on the Node response, and the connection serves the next request', async () => {
    await start({ authorize: () => false }, [cors()]);
    const { socket: s, text } = socket();
    s.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil(() => text().includes('ssehub: forbidden\n'), 'the refusal');
    expect(text()).toMatch(/^HTTP\/1\.1 403 /);
    expect(headSentOnReturn).toEqual([true]);
    const before = text().length;
    s.write('GET /other HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil(() => text().slice(before).endsWith('nope'), 'the next response');
    expect(text().slice(before)).toMatch(/^HTTP\/1\.1 404 /);
    expect(hub.size).toBe(0);
    expect(serverErrors).toEqual([]);
  });

  it('leaves other methods to Hono: a POST gets 405 with Allow, written by node-server', async () => {
    await start({}, [cors()], undefined, ['GET', 'POST']);
    const res = await fetch(`${origin()}/events`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(await res.text()).toBe('');
    expect(headSentOnReturn).toEqual([false]);
    expect(hub.size).toBe(0);
    expect(serverErrors).toEqual([]);
  });
});
