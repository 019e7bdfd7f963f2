/**
 * The Node adapter's small parts (node/chunked, request, respond), on real node:http servers and raw
 * sockets: exact chunk framing, body limits, header reading, and what an answer puts on the wire.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createHub, type Hub } from '@ssehub/core';
import { frameChunk } from '../src/node/chunked';
import { nodeHeaderReader, nodePublishRequest, nodeStreamRequest, readNodeBody } from '../src/node/request';
import { isHttp1, sendNodeAnswer, serveNode } from '../src/node/respond';

const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');

/** The body of a raw HTTP/1.1 response, its chunks joined when it is chunked. */
function bodyOf(response: string): string {
  const at = response.indexOf('\r\n\r\n');
  let rest = response.slice(at + 4);
  if (!/\r\nTransfer-Encoding: chunked\r\n/i.test(response.slice(0, at + 2))) return rest;
  let body = '';
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return body;
    body += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

describe('frameChunk', () => {
  it('frames bytes as one HTTP/1.1 chunk: hex length, CRLF, bytes, CRLF', () => {
    expect(latin1(frameChunk(new TextEncoder().encode('data: hi\n\n')))).toBe('a\r\ndata: hi\n\n\r\n');
    expect(latin1(frameChunk(new Uint8Array(255).fill(120)))).toBe(`ff\r\n${'x'.repeat(255)}\r\n`);
    expect(latin1(frameChunk(new Uint8Array(4096).fill(121)))).toBe(`1000\r\n${'y'.repeat(4096)}\r\n`);
    expect(latin1(frameChunk(new Uint8Array([1])))).toBe('1\r\n\x01\r\n');
  });

  it('frames the same bytes once and hands the framing back for the next recipient', () => {
    const bytes = new TextEncoder().encode('data: a\n\n');
    const first = frameChunk(bytes);
    expect(frameChunk(bytes)).toBe(first);
    // Equal bytes in another array are another broadcast: framed anew.
    const other = frameChunk(new TextEncoder().encode('data: a\n\n'));
    expect(other).not.toBe(first);
    expect(latin1(other)).toBe(latin1(first));
    expect(Buffer.isBuffer(first)).toBe(true); // a Buffer goes to the socket without a copy
  });
});

describe('Node requests and answers, over a real server', () => {
  let server: http.Server;
  let port: number;
  let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  let hub: Hub | undefined;
  const sockets: net.Socket[] = [];

  beforeEach(async () => {
    server = http.createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    await hub?.close();
    hub = undefined;
    for (const s of sockets.splice(0)) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Sends raw bytes and reads everything until the server closes or `ms` pass. */
  function raw(request: string, ms = 1500): Promise<string> {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      sockets.push(socket);
      let text = '';
      const timer = setTimeout(() => resolve(text), ms);
      socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
      socket.on('error', () => undefined);
      socket.write(request);
    });
  }

  const post = (body: string, extra = '') =>
    `POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`;

  it('reads the method, query and headers of a stream request', async () => {
    let seen: unknown;
    handler = (req, res) => {
      const r = nodeStreamRequest(req);
      seen = { method: r.method, id: r.query.get('id'), channels: r.query.getAll('channel'), h: r.header('x-a'), none: r.header('x-none') };
      res.end();
    };
    await raw('GET /e?id=u%201&channel=a&channel=b HTTP/1.1\r\nHost: x\r\nX-A: one\r\nConnection: close\r\n\r\n');
    expect(seen).toEqual({ method: 'GET', id: 'u 1', channels: ['a', 'b'], h: 'one', none: undefined });
    await raw('GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(seen).toEqual({ method: 'GET', id: null, channels: [], h: undefined, none: undefined });
    // No query string: no parameter at all (the path is not read as one).
    let keys: string[] | undefined;
    handler = (req, res) => {
      keys = [...nodeStreamRequest(req).query.keys()];
      res.end();
    };
    await raw('GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(keys).toEqual([]);
    // A request object without a method (a stand-in some frameworks build) counts as GET.
    const bare = { headers: {} } as http.IncomingMessage;
    expect([nodeStreamRequest(bare).method, nodePublishRequest(null, bare, '/').method]).toEqual(['GET', 'GET']);
  });

  it('reads the first value of a header sent twice', async () => {
    let seen: unknown;
    handler = (req, res) => {
      // set-cookie is the one header node keeps as a list.
      seen = nodeHeaderReader(req)('set-cookie');
      res.end();
    };
    await raw('GET / HTTP/1.1\r\nHost: x\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nConnection: close\r\n\r\n');
    expect(seen).toBe('a=1');
  });

  it('reads a body up to the limit, inclusive, and drops a longer one while keeping the request readable', async () => {
    const got: (string | undefined)[] = [];
    handler = async (req, res) => {
      const limit = Number(req.headers['x-limit']);
      const before = ['data', 'end', 'error'].map((e) => req.listenerCount(e));
      const b = await readNodeBody(req, limit);
      // It leaves no listener of its own behind, whichever way it ended.
      expect(['data', 'end', 'error'].map((e) => req.listenerCount(e))).toEqual(before);
      got.push(b === undefined ? undefined : Buffer.from(b).toString());
      res.writeHead(200, { 'Content-Length': '2' });
      res.end('ok');
    };
    expect(await raw(post('12345', 'X-Limit: 5\r\n'))).toContain('\r\n\r\nok');
    const long = 'x'.repeat(200_000);
    // The answer goes out only once the whole body has been read (and dropped).
    expect(await raw(post(long, 'X-Limit: 5\r\n'), 5000)).toContain('\r\n\r\nok');
    expect(await raw(post('', 'X-Limit: 0\r\n'))).toContain('\r\n\r\nok');
    expect(got).toEqual(['12345', undefined, '']);
  });

  it('rejects when the request fails mid-body, and stops listening to it', async () => {
    let outcome: Promise<unknown> | undefined;
    let listeners: number | undefined;
    handler = (req) => {
      outcome = readNodeBody(req, 1000).catch((e: Error) => {
        listeners = req.listenerCount('data');
        return e.message;
      });
    };
    const s = net.connect(port, '127.0.0.1');
    sockets.push(s);
    s.on('error', () => undefined);
    s.write('POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf');
    while (!outcome) await new Promise((r) => setTimeout(r, 5));
    s.destroy();
    expect(await outcome).toBe('aborted');
    expect(listeners).toBe(0);
  });

  it('hands a parsed body over only when the request stream was consumed', async () => {
    const seen: unknown[] = [];
    handler = async (req, res) => {
      if (req.headers['x-consume']) await readNodeBody(req, 100);
      const p = nodePublishRequest({ app: 1 }, req, '/sub', { parsed: true });
      seen.push({ method: p.method, path: p.path, parsed: p.parsedBody, req: p.req, h: p.header('x-consume') });
      if (!req.headers['x-consume']) seen.push(Buffer.from((await p.readBody(100))!).toString());
      res.end();
    };
    await raw(post('{"a":1}'));
    await raw(post('{"a":1}', 'X-Consume: 1\r\n'));
    expect(seen).toEqual([
      { method: 'POST', path: '/sub', parsed: undefined, req: { app: 1 }, h: undefined },
      '{"a":1}',
      { method: 'POST', path: '/sub', parsed: { parsed: true }, req: { app: 1 }, h: '1' },
    ]);
  });

  it('sends an answer with Connection: close over HTTP/1.1 when asked, and no body for HEAD, 204 or 304', async () => {
    handler = (req, res) => {
      const status = Number(req.headers['x-status'] ?? 200);
      sendNodeAnswer(res, { status, headers: { 'X-A': '1' }, body: 'hello', closeConnection: req.headers['x-close'] === '1' }, req.method === 'HEAD');
    };
    const closing = await raw('GET / HTTP/1.1\r\nHost: x\r\nX-Close: 1\r\n\r\n');
    expect(closing).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(closing).toMatch(/\r\nConnection: close\r\n/i);
    expect(closing).toMatch(/\r\nX-A: 1\r\n/);
    expect(bodyOf(closing)).toBe('hello');
    // Kept alive unless asked: the connection stays open after the answer.
    const kept = await raw('GET / HTTP/1.1\r\nHost: x\r\n\r\n', 500);
    expect(kept).toMatch(/\r\nConnection: keep-alive\r\n/i);
    expect(bodyOf(kept)).toBe('hello');
    const head = await raw('HEAD / HTTP/1.1\r\nHost: x\r\nX-Close: 1\r\n\r\n');
    expect(head.endsWith('\r\n\r\n')).toBe(true);
    expect(head).not.toContain('hello');
    for (const status of [204, 304]) {
      const empty = await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Status: ${status}\r\nX-Close: 1\r\n\r\n`);
      expect(empty).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      expect(empty.endsWith('\r\n\r\n')).toBe(true);
      expect(empty).not.toContain('hello');
    }
  });

  it('serveNode over HTTP/2: no Connection header (HTTP/2 forbids it), events as over HTTP/1', async () => {
    hub = createHub({ heartbeat: 0 });
    const server = http2.createServer((req, res) => void serveNode(hub!, res as unknown as http.ServerResponse, {}));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const stream = session.request({ ':path': '/' });
      const headers = await new Promise<http2.IncomingHttpHeaders>((r) => stream.once('response', r));
      expect(headers[':status']).toBe(200);
      expect(headers.connection).toBeUndefined();
      expect(headers['content-type']).toBe('text/event-stream; charset=utf-8');
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (text += c));
      while (hub.size === 0) await new Promise((r) => setTimeout(r, 5));
      hub.broadcast({ data: 'h2', id: '1' });
      while (!text.includes('data: h2\n\n')) await new Promise((r) => setTimeout(r, 5));
      expect(text).toBe(':\nid: 1\ndata: h2\n\n');
      stream.close();
    } finally {
      session.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it('tells HTTP/1 responses apart (HTTP/1.0 and 1.1)', async () => {
    const seen: boolean[] = [];
    handler = (_req, res) => {
      seen.push(isHttp1(res));
      res.end();
    };
    await raw('GET / HTTP/1.0\r\n\r\n');
    await raw('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(seen).toEqual([true, true]);
    expect(isHttp1({} as http.ServerResponse)).toBe(false);
  });

  it('serveNode: a stream with the SSE headers, the app headers and Connection: close over HTTP/1', async () => {
    hub = createHub({ heartbeat: 0 });
    handler = (_req, res) => void serveNode(hub!, res, {}, { headers: { 'X-App': 'a' } });
    const text = raw('GET / HTTP/1.1\r\nHost: x\r\n\r\n', 400);
    while (hub.size === 0) await new Promise((r) => setTimeout(r, 5));
    hub.broadcast({ data: 'x', id: '1' });
    const got = await text;
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(got).toMatch(/\r\nContent-Type: text\/event-stream; charset=utf-8\r\n/);
    expect(got).toMatch(/\r\nCache-Control: no-cache, no-transform\r\n/);
    expect(got).toMatch(/\r\nX-App: a\r\n/);
    expect(got).toMatch(/\r\nConnection: close\r\n/);
    expect(bodyOf(got)).toBe(':\nid: 1\ndata: x\n\n');
  });

  it('serveNode: a refusal when the hub is full, counted, with the app headers; 503 for a request that is not an EventSource', async () => {
    hub = createHub({ heartbeat: 0, maxClients: 1 });
    let client: unknown = 'unset';
    handler = (_req, res) => {
      client = serveNode(hub!, res, {}, { headers: { 'X-App': 'a' }, retryAfter: 7, eventStream: _req.headers.accept === 'text/event-stream' });
    };
    void raw('GET / HTTP/1.1\r\nHost: x\r\n\r\n', 300);
    while (hub.size === 0) await new Promise((r) => setTimeout(r, 5));
    const es = await raw('GET / HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
    expect(client).toBeUndefined();
    expect(es).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(es).toMatch(/\r\nX-SSEHub-Refused: hub-full\r\n/);
    expect(es).toMatch(/\r\nX-App: a\r\n/);
    expect(es).toMatch(/\r\nConnection: close\r\n/);
    expect(bodyOf(es)).toMatch(/^retry: \d+\n: ssehub: too many connections; retry in \d+ ms\n$/);
    const plain = await raw('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(plain).toMatch(/^HTTP\/1\.1 503 /);
    expect(plain).toMatch(/\r\nRetry-After: 7\r\n/);
    expect(hub.stats().refusals['hub-full']).toBe(2);
  });

  it('serveNode: an EventSource refusal by default once the hub is closed', async () => {
    hub = createHub({ heartbeat: 0 });
    await hub.close();
    handler = (_req, res) => void serveNode(hub!, res, {});
    const got = await raw('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(got).toMatch(/\r\nX-SSEHub-Refused: shutting-down\r\n/);
    expect(got).toMatch(/\r\nRetry-After: 1\r\n/);
  });
});
