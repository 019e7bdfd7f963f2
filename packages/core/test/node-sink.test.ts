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
import { waitUntil } from '../../testing/src/clients';
import { rawClient as connectRaw } from './raw-client';

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

/** A raw TCP client of the server `start` made. */
const rawClient = (request = 'GET /events HTTP/1.1\r\nHost: x\r\n\r\n') => connectRaw(port, request, sockets);

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
  await waitUntil(() => hub.size === 1 && c.text.includes('\r\n\r\n'), 'the stream to open');
  expect(c.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  expect(c.text.toLowerCase()).toContain('transfer-encoding: chunked');

  // Two events in one turn are coalesced into one chunk; a multibyte character stays whole.
  const id1 = hub.broadcast({ data: 'first' });
  const id2 = hub.broadcast({ event: 'e', data: 'zwei ü €' });
  await waitUntil(() => body(c.text).length > '2\r\n:\n\r\n'.length, 'the first chunk');
  const id3 = hub.broadcast({ data: { n: 3 } });
  const e1 = encodeEvent({ data: 'first' }, id1);
  const e2 = encodeEvent({ event: 'e', data: 'zwei ü €' }, id2);
  const e3 = encodeEvent({ data: { n: 3 } }, id3);
  // The stream's lone `:` line comes first, as its own chunk.
  const expected = '2\r\n:\n\r\n' + chunk(Buffer.concat([e1, e2])) + chunk(e3);
  await waitUntil(() => body(c.text).length >= expected.length, 'the second chunk');

  // Ending the stream writes the last chunk, and the connection (`Connection: close`) ends with it.
  expect(c.text.toLowerCase()).toContain('\r\nconnection: close\r\n');
  await hub.close();
  await waitUntil(() => c.ended, 'the connection to end after the last chunk');
  expect(body(c.text)).toBe(expected + '0\r\n\r\n');
});

it('frames once per broadcast: every recipient gets the same bytes', async () => {
  hub = createHub({ heartbeat: 0 });
  await start();
  const clients = [rawClient(), rawClient(), rawClient()];
  await waitUntil(() => hub.size === 3 && clients.every((c) => c.text.includes('\r\n\r\n')), 'three streams');
  const ids = [hub.broadcast({ data: 'a' }), hub.broadcast({ data: 'b'.repeat(300) })];
  const expected = '2\r\n:\n\r\n' + chunk(Buffer.concat([encodeEvent({ data: 'a' }, ids[0]), encodeEvent({ data: 'b'.repeat(300) }, ids[1])]));
  await waitUntil(() => clients.every((c) => body(c.text).length >= expected.length), 'every client to read');
  for (const c of clients) expect(body(c.text)).toBe(expected);
});

it('keeps backpressure on the socket: a client that pauses, then reads, gets every event in order', async () => {
  // A long timeout and a large bound: the paused client must be held, not evicted.
  hub = createHub({ heartbeat: 0, timeout: 60_000, maxBufferedBytes: 64 * 1024 * 1024 });
  const evicted: string[] = [];
  hub.on('evict', (_c, reason) => evicted.push(reason));
  await start();
  const c = rawClient();
  await waitUntil(() => hub.size === 1 && c.text.includes('\r\n\r\n'), 'the stream to open');
  c.socket.pause();
  const data = 'x'.repeat(1000);
  const N = 20_000; // 20 MB: more than the kernel buffers of both ends, so the hub sees backpressure
  for (let i = 0; i < N; i += 100) {
    for (let j = 0; j < 100; j++) hub.broadcast({ data: `${i + j} ${data}` });
    await new Promise((r) => setImmediate(r));
  }
  await waitUntil(() => hub.clients()[0]!.bufferedBytes > 1024 * 1024, 'the hub to queue behind the stalled socket');
  c.socket.resume();
  await waitUntil(() => (c.text.match(/\n\n/g)?.length ?? 0) >= N, 'every event after the drain', 30_000);
  const numbers = [...c.text.matchAll(/data: (\d+) /g)].map((m) => Number(m[1]));
  expect(numbers).toEqual(Array.from({ length: N }, (_, i) => i));
  expect(evicted).toEqual([]);
}, 40_000);

it('falls back to res.write for an HTTP/1.0 client (no chunked encoding)', async () => {
  hub = createHub({ heartbeat: 0 });
  await start();
  const c = rawClient('GET /events HTTP/1.0\r\n\r\n');
  await waitUntil(() => hub.size === 1 && c.text.includes('\r\n\r\n'), 'the stream to open');
  const id = hub.broadcast({ data: 'plain' });
  const expected = ':\n' + Buffer.from(encodeEvent({ data: 'plain' }, id)).toString('latin1');
  await waitUntil(() => body(c.text).length >= expected.length, 'the event');
  expect(body(c.text)).toBe(expected);
  await hub.close();
  await waitUntil(() => c.ended, 'the connection to close');
  expect(body(c.text)).toBe(expected);
});

it('goes through compression middleware in front, which gets every event at once', async () => {
  hub = createHub({ heartbeat: 0 });
  const mw = compression();
  await start((req, res, serve) => mw(req as never, res as never, serve));
  const c = rawClient('GET /events HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n');
  await waitUntil(() => hub.size === 1 && c.text.includes('\r\n\r\n'), 'the stream to open');
  // Each event must arrive before the next is sent: nothing may sit in the compressor.
  for (let i = 0; i < 5; i++) {
    const id = hub.broadcast({ data: `event ${i}` });
    const wire = Buffer.from(encodeEvent({ data: `event ${i}` }, id)).toString('latin1');
    await waitUntil(() => c.text.includes(wire), `event ${i}`);
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
  await waitUntil(() => paths.length === 1, 'the first stream');
  rawClient('GET /events HTTP/1.0\r\n\r\n');
  await waitUntil(() => paths.length === 2, 'the HTTP/1.0 stream');
  expect(paths).toEqual([true, false]);
});

/** Ways a future Node's first response could differ from the shape the direct path was written for. */
const unexpectedShapes: [string, (res: http.ServerResponse) => void][] = [
  ['no _hasBody', (res) => Object.defineProperty(res, '_hasBody', { value: undefined, writable: true, configurable: true })],
  // Accessors that still work for Node's own code, but do not hold booleans.
  ['a chunkedEncoding that is not a boolean', (res) => Object.defineProperty(res, 'chunkedEncoding', { get: () => 1, set: () => undefined, configurable: true })],
  [
    'a finished that is not a boolean',
    (res) => {
      let finished = 0;
      Object.defineProperty(res, 'finished', { get: () => finished, set: (v: boolean) => (finished = v ? 1 : 0), configurable: true });
    },
  ],
  [
    'a write whose class has no name',
    (res) => {
      const write = res.write;
      Object.defineProperty(res, 'write', { value: write, writable: true, configurable: true });
      Object.defineProperty(res, 'constructor', { value: {}, configurable: true });
    },
  ],
];

it.each(unexpectedShapes)('falls back to res.write for good on a Node whose responses have %s, losing nothing', async (_shape, reshape) => {
  hub = createHub({ heartbeat: 0 });
  const paths: boolean[] = [];
  let first = true;
  // A fresh copy of the module, so its once-per-process check runs again here.
  await jest.isolateModulesAsync(async () => {
    const fresh = jest.requireActual<typeof import('../src/node/sink')>('../src/node/sink');
    await start((_req, res) => {
      if (first) {
        // Only the first response the module sees is reshaped: the check is made once, on it.
        first = false;
        reshape(res);
      }
      const sink = new fresh.NodeSink(res, { 'Content-Type': 'text/event-stream' });
      paths.push(sink.direct);
      hub.connect(sink);
    });
  });
  const a = rawClient();
  await waitUntil(() => paths.length === 1, 'the first stream');
  const b = rawClient();
  await waitUntil(() => paths.length === 2 && hub.size === 2, 'the second stream');
  // Both take the public path, and a normal response still gets well-formed chunks.
  expect(paths).toEqual([false, false]);
  const id = hub.broadcast({ data: 'still here' });
  const expected = chunk(encodeEvent({ data: 'still here' }, id));
  await waitUntil(() => body(b.text).includes(expected), 'the event, framed by Node');
  expect(a.text).toContain('HTTP/1.1 200');
});

/** One stream's parts, as the server made them. */
interface Made {
  sink: NodeSink;
  res: http.ServerResponse;
  req: http.IncomingMessage;
}

/**
 * Starts a server whose /events responses each get a NodeSink and no hub, so the test drives the sink
 * itself. `prepare` runs on the response before the sink is made (a middleware's wrapping, a spy).
 */
async function startSinks(
  prepare: (req: http.IncomingMessage, res: http.ServerResponse) => void = () => undefined,
  headers: Record<string, string> = { 'Content-Type': 'text/event-stream' },
): Promise<Made[]> {
  const made: Made[] = [];
  await start((req, res) => {
    prepare(req, res);
    made.push({ sink: new NodeSink(res, headers), res, req });
  });
  return made;
}

/** Counts the calls of `res[method]` after it, passing each on. */
function countCalls(res: http.ServerResponse, method: 'write' | 'end'): { calls: number } {
  const seen = { calls: 0 };
  const original = res[method] as (...args: unknown[]) => unknown;
  (res as unknown as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
    seen.calls++;
    return original.apply(this, args);
  };
  return seen;
}

const event = (text: string) => encodeEvent({ data: text }, undefined);
const closedOf = (sink: NodeSink) => new Promise<void>((resolve) => sink.onClose(resolve));

describe('NodeSink, the sink contract over a real response', () => {
  it('turns Nagle off on the socket, so small events are not held back', async () => {
    const calls: unknown[][] = [];
    await startSinks((_req, res) => {
      const socket = res.socket!;
      const original = socket.setNoDelay.bind(socket);
      socket.setNoDelay = (...args: Parameters<typeof socket.setNoDelay>) => (calls.push(args), original(...args));
    });
    rawClient();
    await waitUntil(() => calls.length > 0, 'the stream');
    expect(calls).toEqual([[true]]);
  });

  it('takes the direct path without calling res.write for events, and res.write for every event on HTTP/1.0', async () => {
    // A spy on Node's own write, not on the response: a response whose write is its own is not direct.
    const spy = jest.spyOn(http.OutgoingMessage.prototype, 'write');
    try {
      const made = await startSinks();
      const direct = rawClient();
      await waitUntil(() => made.length === 1 && direct.text.includes('\r\n\r\n'), 'the HTTP/1.1 stream');
      const http10 = rawClient('GET /events HTTP/1.0\r\n\r\n');
      await waitUntil(() => made.length === 2 && http10.text.includes('\r\n\r\n'), 'the HTTP/1.0 stream');
      const writesOf = (res: http.ServerResponse) => spy.mock.contexts.filter((c) => c === res).length;
      const before = made.map((m) => writesOf(m.res));
      for (const { sink } of made) for (let i = 0; i < 3; i++) sink.write(event(`e${i}`));
      await waitUntil(() => (http10.text.match(/data: e\d/g) ?? []).length === 3 && (direct.text.match(/data: e\d/g) ?? []).length === 3, 'the events');
      expect(made.map((m) => m.sink.direct)).toEqual([true, false]);
      expect(made.map((m, i) => writesOf(m.res) - before[i]!)).toEqual([0, 3]);
    } finally {
      spy.mockRestore();
    }
  });

  it('sends every event through a res.write that middleware wrapped (never straight to the socket)', async () => {
    const seen: string[] = [];
    const made = await startSinks((_req, res) => {
      const original = res.write.bind(res) as (chunk: Uint8Array) => boolean;
      (res as unknown as { write: (chunk: Uint8Array) => boolean }).write = (chunk) => (seen.push(Buffer.from(chunk).toString('latin1')), original(chunk));
    });
    const c = rawClient();
    await waitUntil(() => made.length === 1 && c.text.includes('\r\n\r\n'), 'the stream');
    made[0]!.sink.write(event('through the wrapper'));
    await waitUntil(() => c.text.includes('data: through the wrapper'), 'the event');
    expect(made[0]!.sink.direct).toBe(false);
    expect(seen).toEqual([':\n', 'data: through the wrapper\n\n']);
  });

  it('never writes a body to a HEAD response, even one whose headers say chunked', async () => {
    const made = await startSinks(undefined, { 'Content-Type': 'text/event-stream', 'Transfer-Encoding': 'chunked' });
    const c = rawClient('HEAD /events HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil(() => made.length === 1 && c.text.includes('\r\n\r\n'), 'the headers');
    expect(made[0]!.sink.direct).toBe(false);
    expect(made[0]!.sink.write(event('no body on HEAD'))).toBe(true);
    made[0]!.sink.end();
    // The connection stays usable: the next response follows the HEAD answer's headers directly.
    c.socket.write('GET /other HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil(() => c.text.endsWith('nope'), 'the next response');
    expect(c.text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*?\r\n\r\nHTTP\/1\.1 404 Not Found\r\n[^]*\r\n\r\nnope$/);
  });

  it('skips an empty chunk (a zero-length chunk would end the body)', async () => {
    const made = await startSinks();
    const c = rawClient();
    await waitUntil(() => made.length === 1 && c.text.includes('\r\n\r\n'), 'the stream');
    const { sink } = made[0]!;
    expect(sink.direct).toBe(true);
    expect(sink.write(new Uint8Array(0))).toBe(true);
    const e = event('after the empty one');
    sink.write(e);
    const expected = '2\r\n:\n\r\n' + chunk(e);
    await waitUntil(() => body(c.text).length >= expected.length, 'the event');
    expect(body(c.text)).toBe(expected);
  });

  it('after end(), writes nothing after the last chunk: the keep-alive connection serves its next request', async () => {
    const made = await startSinks();
    const c = rawClient();
    await waitUntil(() => made.length === 1 && c.text.includes('\r\n\r\n'), 'the stream');
    const { sink } = made[0]!;
    sink.end();
    expect(sink.write(event('too late'))).toBe(true);
    expect(sink.write(event('too late'))).toBe(true);
    c.socket.write('GET /other HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil(() => c.text.endsWith('nope'), 'the next response');
    expect(body(c.text)).toMatch(/^2\r\n:\n\r\n0\r\n\r\nHTTP\/1\.1 404 Not Found\r\n/);
  });

  it('after end() on the res.write path (HTTP/1.0), writes nothing and raises no write-after-end error', async () => {
    const errors: Error[] = [];
    const made = await startSinks((_req, res) => void res.on('error', (e) => errors.push(e)));
    const c = rawClient('GET /events HTTP/1.0\r\n\r\n');
    await waitUntil(() => made.length === 1 && c.text.includes('\r\n\r\n'), 'the stream');
    const { sink } = made[0]!;
    sink.end();
    expect(sink.write(event('too late'))).toBe(true);
    await waitUntil(() => c.ended, 'the connection to end');
    expect(body(c.text)).toBe(':\n');
    expect(errors).toEqual([]);
  });

  it('calls res.end once when ended twice (middleware that wraps end sees one end)', async () => {
    const ends: { calls: number }[] = [];
    const made = await startSinks((_req, res) => void ends.push(countCalls(res, 'end')));
    const c = rawClient();
    await waitUntil(() => made.length === 1 && c.text.includes('\r\n\r\n'), 'the stream');
    made[0]!.sink.end();
    made[0]!.sink.end();
    expect(ends[0]!.calls).toBe(1);
  });

  it('writes nothing, and reports no backpressure, once its socket ended or was destroyed, before the close event', async () => {
    const made = await startSinks();
    const a = rawClient();
    const b = rawClient();
    await waitUntil(() => made.length === 2 && a.text.includes('\r\n\r\n') && b.text.includes('\r\n\r\n'), 'two streams');
    const [ended, destroyed] = made as [Made, Made];
    expect([ended.sink.direct, destroyed.sink.direct]).toEqual([true, true]);
    // What a peer's FIN or reset does to the server's socket, before the response hears of it.
    ended.res.socket!.end();
    expect(ended.res.socket!.destroyed).toBe(false);
    expect(ended.sink.write(event('after FIN'))).toBe(true);
    destroyed.res.socket!.destroy();
    expect(destroyed.res.socket!.writableEnded).toBe(false);
    expect(destroyed.sink.write(event('after reset'))).toBe(true);
    await waitUntil(() => a.ended, 'the ended connection to end');
    expect(body(a.text)).toBe('2\r\n:\n\r\n');
  });

  it('writes nothing, and reports no backpressure, once the peer left (res.write path)', async () => {
    const writes: { calls: number }[] = [];
    const made = await startSinks((_req, res) => void writes.push(countCalls(res, 'write')));
    const c = rawClient('GET /events HTTP/1.0\r\n\r\n');
    await waitUntil(() => made.length === 1 && c.text.includes('\r\n\r\n'), 'the stream');
    const { sink } = made[0]!;
    const closed = closedOf(sink);
    c.socket.destroy();
    await closed;
    const calls = writes[0]!.calls;
    expect(sink.write(event('to nobody'))).toBe(true);
    expect(writes[0]!.calls).toBe(calls);
  });

  it('runs every close callback once, in order, and one registered after the close in a microtask', async () => {
    const made = await startSinks();
    const c = rawClient();
    await waitUntil(() => made.length === 1 && c.text.includes('\r\n\r\n'), 'the stream');
    const { sink } = made[0]!;
    const order: string[] = [];
    sink.onClose(() => order.push('first'));
    sink.onClose(() => order.push('second'));
    const closed = closedOf(sink);
    c.socket.destroy();
    await closed;
    expect(order).toEqual(['first', 'second']);
    sink.onClose(() => order.push('late'));
    expect(order).toEqual(['first', 'second']);
    await Promise.resolve();
    expect(order).toEqual(['first', 'second', 'late']);
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['first', 'second', 'late']);
  });

  it('destroy() closes the connection at once and makes later writes no-ops', async () => {
    const writes: { calls: number }[] = [];
    const made = await startSinks((_req, res) => void writes.push(countCalls(res, 'write')));
    const c = rawClient('GET /events HTTP/1.0\r\n\r\n');
    await waitUntil(() => made.length === 1 && c.text.includes('\r\n\r\n'), 'the stream');
    const { sink } = made[0]!;
    sink.destroy();
    const calls = writes[0]!.calls;
    expect(sink.write(event('after destroy'))).toBe(true);
    expect(writes[0]!.calls).toBe(calls);
    await waitUntil(() => c.ended, 'the connection to close');
    expect(body(c.text)).toBe(':\n');
  });
});
