/**
 * The Node adapter's two handlers (node/handlers), each on a plain node:http server (and HTTP/2's
 * compatibility API) with raw clients: what they take and pass on, the headers a framework hands
 * in, compression, a peer that leaves while `authorize` runs, and the publish API's answers.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createHub, type Hub } from '@ssehub/core';
import { nodePublishHandler, nodeStreamHandler, type NodeStreamHandler } from '@ssehub/core/adapter/node';
import type { StreamOptions } from '@ssehub/core/adapter';
import { waitUntil } from '../../testing/src/clients';
import { rawClient } from './raw-client';

let hub: Hub;
let server: http.Server | http2.Http2Server | undefined;
let port: number;
const sockets: net.Socket[] = [];
/** What each handler call returned, in order. */
let served: boolean[];
/** The headers the framework in front hands to the stream handler. */
let extra: { headers?: Record<string, string> } | undefined;
/** The responses of /events requests, and of /slow ones (held unanswered), as they came. */
let streamResponses: http.ServerResponse[];
let slowResponses: http.ServerResponse[];

beforeEach(() => {
  hub = createHub({ heartbeat: 0 });
  served = [];
  extra = undefined;
  streamResponses = [];
  slowResponses = [];
});

afterEach(async () => {
  await hub.close();
  for (const s of sockets.splice(0)) s.destroy();
  if (server instanceof http.Server) server.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  server = undefined;
});

/**
 * The dispatch an adapter does: /events to the stream handler, /api/* to the publish handler (token
 * `t`), and whatever a handler passes on to the app's own 404 "passed". /slow is held unanswered.
 */
function dispatch(stream: NodeStreamHandler<unknown>) {
  const publish = nodePublishHandler(hub, { token: 't' });
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/slow') return void slowResponses.push(res);
    if (path === '/events') streamResponses.push(res);
    const handled = path.startsWith('/api')
      ? publish(req, req, res, { path: path.slice('/api'.length) })
      : path === '/events'
        ? stream(req, req, res, extra)
        : Promise.resolve(false);
    void handled.then((done) => {
      served.push(done);
      if (!done) {
        res.writeHead(404, { 'Content-Length': '6' });
        res.end('passed');
      }
    });
  };
}

async function startHttp1(options: StreamOptions<unknown> = {}): Promise<void> {
  server = http.createServer(dispatch(nodeStreamHandler(hub, options)));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
}

/** A raw TCP client of the server started last. */
const raw = (request: string) => rawClient(port, request, sockets);

/**
 * An `authorize` held by the test: `called` resolves when the handler asks, and the answer (allow)
 * comes only once the test calls `release()`, so the test can act on the peer meanwhile.
 */
function heldAuthorize() {
  let asked: () => void = () => undefined;
  const called = new Promise<void>((resolve) => (asked = resolve));
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  return { authorize: () => (asked(), released.then(() => true)), called, release };
}

/** The clients `hub` connects from now on. */
function connectsOf(h: Hub): unknown[] {
  const connects: unknown[] = [];
  h.on('connect', (c) => connects.push(c));
  return connects;
}

const headersOf = (text: string) => text.slice(0, text.indexOf('\r\n\r\n') + 2);
const GET = (path: string, headers = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;

describe('nodeStreamHandler', () => {
  it('serves a GET as a stream and says it answered', async () => {
    await startHttp1();
    const c = raw(GET('/events'));
    await waitUntil(() => hub.size === 1 && served.length === 1 && c.text.includes('\r\n\r\n'), 'the stream');
    expect(served).toEqual([true]);
    expect(headersOf(c.text)).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*content-type: text\/event-stream;/i);
  });

  it('passes on a method that is not the stream’s, and OPTIONS without CORS', async () => {
    await startHttp1();
    const post = raw(`POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
    const options = raw(`OPTIONS /events HTTP/1.1\r\nHost: x\r\nOrigin: http://a\r\nAccess-Control-Request-Method: GET\r\n\r\n`);
    await waitUntil(() => post.text.endsWith('passed') && options.text.endsWith('passed'), 'both passed on');
    expect(served).toEqual([false, false]);
    expect(hub.size).toBe(0);
  });

  it('answers a refusal itself and says so (the app’s fallback never runs)', async () => {
    await startHttp1({ authorize: () => false });
    const c = raw(GET('/events', 'Accept: text/event-stream\r\n'));
    await waitUntil(() => served.length === 1 && c.text.includes('\r\n\r\n'), 'the answer');
    expect(served).toEqual([true]);
    expect(c.text).toMatch(/^HTTP\/1\.1 (401|403) /);
    expect(c.text).not.toContain('passed');
  });

  it('sends the headers a framework hands in, with the stream options’ headers winning a clash', async () => {
    extra = { headers: { 'X-Framework': 'yes', 'X-App': 'from the framework' } };
    await startHttp1({ headers: { 'X-App': 'from the options' } });
    const c = raw(GET('/events'));
    await waitUntil(() => hub.size === 1 && c.text.includes('\r\n\r\n'), 'the stream');
    const head = headersOf(c.text);
    expect(head).toContain('\r\nX-Framework: yes\r\n');
    expect(head).toContain('\r\nX-App: from the options\r\n');
    expect(head).not.toContain('from the framework');
  });

  it('gzips a stream only when compress is on and the client accepts gzip', async () => {
    await startHttp1({ compress: true });
    const gz = raw(GET('/events', 'Accept-Encoding: gzip\r\n'));
    const plain = raw(GET('/events'));
    await waitUntil(() => hub.size === 2 && gz.text.includes('\r\n\r\n') && plain.text.includes('\r\n\r\n'), 'two streams');
    expect(headersOf(gz.text).toLowerCase()).toContain('\r\ncontent-encoding: gzip\r\n');
    expect(headersOf(plain.text).toLowerCase()).not.toContain('content-encoding');
  });

  it('does not register a peer that left while authorize ran, and says it answered (HTTP/1)', async () => {
    const held = heldAuthorize();
    const connects = connectsOf(hub);
    await startHttp1({ authorize: held.authorize });
    const c = raw(GET('/events'));
    await held.called;
    c.socket.destroy();
    await new Promise((r) => setTimeout(r, 50));
    held.release();
    await waitUntil(() => served.length === 1, 'the handler to finish');
    expect(served).toEqual([true]);
    expect(connects).toEqual([]);
    expect(hub.size).toBe(0);
  });

  it('does not register a pipelined stream whose queued response was destroyed while authorize ran', async () => {
    const held = heldAuthorize();
    const connects = connectsOf(hub);
    await startHttp1({ authorize: held.authorize });
    // The stream's response waits behind /slow's on the connection: it has no socket of its own yet.
    const c = raw(GET('/slow') + GET('/events'));
    await held.called;
    const res = streamResponses[0]!;
    expect(res.socket).toBeNull();
    // What a per-request timeout in the app does; the connection stays, serving /slow.
    res.destroy();
    held.release();
    await waitUntil(() => served.length === 1, 'the handler to finish');
    expect(served).toEqual([true]);
    expect(connects).toEqual([]);
    expect(c.closed).toBe(false);
  });

  it('does not register an HTTP/2 stream the client reset while authorize ran', async () => {
    const held = heldAuthorize();
    const connects = connectsOf(hub);
    const handle = nodeStreamHandler(hub, { authorize: held.authorize });
    const h2 = http2.createServer((req, res) => void handle(req, req as never, res as never).then((done) => served.push(done)));
    server = h2;
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const session = http2.connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
    try {
      const stream = session.request({ ':path': '/events' });
      stream.on('error', () => undefined);
      await held.called;
      // Only this stream goes: the connection (and its socket) stays up.
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await new Promise((r) => setTimeout(r, 50));
      held.release();
      await waitUntil(() => served.length === 1, 'the handler to finish');
      expect(served).toEqual([true]);
      expect(connects).toEqual([]);
      expect(session.destroyed).toBe(false);
    } finally {
      session.destroy();
    }
  });
});

describe('nodePublishHandler', () => {
  it('answers its own routes and says so, passes on the others', async () => {
    await startHttp1();
    const ok = raw(GET('/api/', 'Authorization: Bearer t\r\n'));
    await waitUntil(() => served.length === 1 && ok.text.includes('\r\n\r\n'), 'the answer');
    const other = raw(GET('/api/elsewhere', 'Authorization: Bearer t\r\n'));
    await waitUntil(() => other.text.endsWith('passed'), 'the other path passed on');
    expect(served).toEqual([true, false]);
    expect(ok.text).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('answers HEAD with the headers and no body: the keep-alive connection serves its next request', async () => {
    await startHttp1();
    const c = raw(`HEAD /api/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n`);
    await waitUntil(() => served.length === 1 && c.text.includes('\r\n\r\n'), 'the HEAD answer');
    c.socket.write(GET('/nowhere'));
    await waitUntil(() => c.text.endsWith('passed'), 'the next answer');
    expect(c.text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*?\r\n\r\nHTTP\/1\.1 404 Not Found\r\n/);
    expect(served).toEqual([true, false]);
  });
});
