/**
 * NodeSink's direct socket path: events go to the socket as pre-framed HTTP/1.1 chunks, and the
 * response still ends properly. Checked on the raw bytes a TCP client reads, against real servers.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import compression from 'compression';
import { createHub, type Hub } from '@ssehub/core';
import { encodeEvent } from '@ssehub/core/adapter';
import { NodeSink, serveNode } from '@ssehub/core/adapter/node';

let hub: Hub;
let server: http.Server;
let port: number;
const sockets: net.Socket[] = [];

/** Starts a plain node:http server whose /events streams `hub`; other paths answer 404 "nope". */
async function start(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, serve: () => void) => void = (_q, _s, serve) => serve(),
): Promise<void> {
  server = http.createServer((req, res) => {
    if (req.url !== '/events') {
      res.writeHead(404, { 'Content-Length': '4' });
      res.end('nope');
      return;
    }
    handler(req, res, () => serveNode(hub, res, {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
}

afterEach(async () => {
  await hub?.close();
  for (const s of sockets.splice(0)) s.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A raw TCP client that keeps every byte it reads, as latin1 text. */
function rawClient(request = 'GET /events HTTP/1.1\r\nHost: x\r\n\r\n') {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  const state = { text: '', ended: false, socket };
  socket.on('data', (b: Buffer) => (state.text += b.toString('latin1')));
  socket.on('end', () => (state.ended = true));
  socket.on('error', () => undefined);
  socket.write(request);
  return state;
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function body(text: string): string {
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

function chunk(bytes: Uint8Array): string {
  return `${bytes.byteLength.toString(16)}\r\n${Buffer.from(bytes).toString('latin1')}\r\n`;
}

it('writes byte-exact chunks, one per flush, ends the chunked body, then the connection', async () => {
  hub = createHub({ heartbeat: 0 });
  await start();
  const c = rawClient();
  await until(() => hub.size === 1 && c.text.includes('\r\n\r\n'), 'the stream to open');
  expect(c.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  expect(c.text.toLowerCase()).toContain('transfer-encoding: chunked');

  // Two events in one turn are coalesced into one chunk; a multibyte character stays whole.
  const id1 = hub.broadcast({ data: 'first' });
  const id2 = hub.broadcast({ event: 'e', data: 'zwei ü €' });
  await until(() => body(c.text).length > '2\r\n:\n\r\n'.length, 'the first chunk');
  const id3 = hub.broadcast({ data: { n: 3 } });
  const e1 = encodeEvent({ data: 'first' }, id1);
  const e2 = encodeEvent({ event: 'e', data: 'zwei ü €' }, id2);
  const e3 = encodeEvent({ data: { n: 3 } }, id3);
  // The stream's lone `:` line comes first, as its own chunk.
  const expected = '2\r\n:\n\r\n' + chunk(Buffer.concat([e1, e2])) + chunk(e3);
  await until(() => body(c.text).length >= expected.length, 'the second chunk');

  // Ending the stream writes the last chunk, and the connection (`Connection: close`) ends with it.
  expect(c.text.toLowerCase()).toContain('\r\nconnection: close\r\n');
  await hub.close();
  await until(() => c.ended, 'the connection to end after the last chunk');
  expect(body(c.text)).toBe(expected + '0\r\n\r\n');
});

it('frames once per broadcast: every recipient gets the same bytes', async () => {
  hub = createHub({ heartbeat: 0 });
  await start();
  const clients = [rawClient(), rawClient(), rawClient()];
  await until(() => hub.size === 3 && clients.every((c) => c.text.includes('\r\n\r\n')), 'three streams');
  const ids = [hub.broadcast({ data: 'a' }), hub.broadcast({ data: 'b'.repeat(300) })];
  const expected = '2\r\n:\n\r\n' + chunk(Buffer.concat([encodeEvent({ data: 'a' }, ids[0]), encodeEvent({ data: 'b'.repeat(300) }, ids[1])]));
  await until(() => clients.every((c) => body(c.text).length >= expected.length), 'every client to read');
  for (const c of clients) expect(body(c.text)).toBe(expected);
});

it('keeps backpressure on the socket: a client that pauses, then reads, gets every event in order', async () => {
  // A long timeout and a large bound: the paused client must be held, not evicted.
  hub = createHub({ heartbeat: 0, timeout: 60_000, maxBufferedBytes: 64 * 1024 * 1024 });
  const evicted: string[] = [];
  hub.on('evict', (_c, reason) => evicted.push(reason));
  await start();
  const c = rawClient();
  await until(() => hub.size === 1 && c.text.includes('\r\n\r\n'), 'the stream to open');
  c.socket.pause();
  const data = 'x'.repeat(1000);
  const N = 20_000; // 20 MB: more than the kernel buffers of both ends, so the hub sees backpressure
  for (let i = 0; i < N; i += 100) {
    for (let j = 0; j < 100; j++) hub.broadcast({ data: `${i + j} ${data}` });
    await new Promise((r) => setImmediate(r));
  }
  await until(() => hub.clients()[0]!.bufferedBytes > 1024 * 1024, 'the hub to queue behind the stalled socket');
  c.socket.resume();
  await until(() => (c.text.match(/\n\n/g)?.length ?? 0) >= N, 'every event after the drain', 30_000);
  const numbers = [...c.text.matchAll(/data: (\d+) /g)].map((m) => Number(m[1]));
  expect(numbers).toEqual(Array.from({ length: N }, (_, i) => i));
  expect(evicted).toEqual([]);
}, 40_000);

it('falls back to res.write for an HTTP/1.0 client (no chunked encoding)', async () => {
  hub = createHub({ heartbeat: 0 });
  await start();
  const c = rawClient('GET /events HTTP/1.0\r\n\r\n');
  await until(() => hub.size === 1 && c.text.includes('\r\n\r\n'), 'the stream to open');
  const id = hub.broadcast({ data: 'plain' });
  const expected = ':\n' + Buffer.from(encodeEvent({ data: 'plain' }, id)).toString('latin1');
  await until(() => body(c.text).length >= expected.length, 'the event');
  expect(body(c.text)).toBe(expected);
  await hub.close();
  await until(() => c.ended, 'the connection to close');
  expect(body(c.text)).toBe(expected);
});

it('goes through compression middleware in front, which gets every event at once', async () => {
  hub = createHub({ heartbeat: 0 });
  const mw = compression();
  await start((req, res, serve) => mw(req as never, res as never, serve));
  const c = rawClient('GET /events HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n');
  await until(() => hub.size === 1 && c.text.includes('\r\n\r\n'), 'the stream to open');
  // Each event must arrive before the next is sent: nothing may sit in the compressor.
  for (let i = 0; i < 5; i++) {
    const id = hub.broadcast({ data: `event ${i}` });
    const wire = Buffer.from(encodeEvent({ data: `event ${i}` }, id)).toString('latin1');
    await until(() => c.text.includes(wire), `event ${i}`);
  }
  expect(c.text.toLowerCase()).not.toContain('content-encoding: gzip');
});

it('says which path it takes: direct on plain chunked HTTP/1.1, res.write for HTTP/1.0', async () => {
  hub = createHub({ heartbeat: 0 });
  const paths: boolean[] = [];
  await start((_req, res) => {
    const sink = new NodeSink(res, { 'Content-Type': 'text/event-stream' });
    paths.push(sink.direct);
    hub.connect(sink);
  });
  rawClient();
  await until(() => paths.length === 1, 'the first stream');
  rawClient('GET /events HTTP/1.0\r\n\r\n');
  await until(() => paths.length === 2, 'the HTTP/1.0 stream');
  expect(paths).toEqual([true, false]);
});

it('falls back to res.write for good on a Node whose response internals are not the expected shape, losing nothing', async () => {
  hub = createHub({ heartbeat: 0 });
  const paths: boolean[] = [];
  let first = true;
  // A fresh copy of the module, so its once-per-process check runs again here.
  await jest.isolateModulesAsync(async () => {
    const fresh = jest.requireActual<typeof import('../src/node/sink')>('../src/node/sink');
    await start((_req, res) => {
      if (first) {
        // The first response the module sees lacks `_hasBody`, as a future Node might.
        first = false;
        Object.defineProperty(res, '_hasBody', { value: undefined, writable: true, configurable: true });
      }
      const sink = new fresh.NodeSink(res, { 'Content-Type': 'text/event-stream' });
      paths.push(sink.direct);
      hub.connect(sink);
    });
  });
  const a = rawClient();
  await until(() => paths.length === 1, 'the first stream');
  const b = rawClient();
  await until(() => paths.length === 2 && hub.size === 2, 'the second stream');
  // Both take the public path, and a normal response still gets well-formed chunks.
  expect(paths).toEqual([false, false]);
  const id = hub.broadcast({ data: 'still here' });
  const expected = chunk(encodeEvent({ data: 'still here' }, id));
  await until(() => body(b.text).includes(expected), 'the event, framed by Node');
  expect(a.text).toContain('HTTP/1.1 200');
});
