/**
 * GzipNodeSink over a real node:http server and a raw TCP client that un-gzips what it reads: the
 * headers, every event leaving the compressor at once, backpressure through the compressor, ending,
 * a compressor error, and a peer that leaves.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { encodeEvent } from '@ssehub/core/adapter';
import { GzipNodeSink } from '@ssehub/core/adapter/node';
import { waitUntil } from '../../testing/src/clients';
import { rawClient as connectRaw } from './raw-client';

interface Made {
  sink: GzipNodeSink;
  gzip: zlib.Gzip;
  res: http.ServerResponse;
}

let server: http.Server;
let port: number;
const sockets: net.Socket[] = [];
const noDelay: unknown[][] = [];

/** A server whose every response gets a GzipNodeSink over a compressor the test holds. */
async function start(): Promise<Made[]> {
  const made: Made[] = [];
  server = http.createServer((_req, res) => {
    const socket = res.socket!;
    const setNoDelay = socket.setNoDelay.bind(socket);
    socket.setNoDelay = (...args: Parameters<typeof socket.setNoDelay>) => (noDelay.push(args), setNoDelay(...args));
    const gzip = zlib.createGzip();
    made.push({ sink: new GzipNodeSink(res, { 'Content-Type': 'text/event-stream', 'X-App': 'kept' }, gzip), gzip, res });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return made;
}

afterEach(async () => {
  noDelay.length = 0;
  for (const s of sockets.splice(0)) s.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A raw TCP client of the server `start` made, asking for the stream gzipped. */
const rawClient = () => connectRaw(port, 'GET /events HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n', sockets);

const headEnd = (bytes: Buffer) => bytes.indexOf('\r\n\r\n');
const headersOf = (bytes: Buffer) => bytes.subarray(0, headEnd(bytes)).toString('latin1');

/** The chunked body's bytes joined, and whether its last chunk came. */
function dechunk(bytes: Buffer): { body: Buffer; complete: boolean } {
  let rest = bytes.subarray(headEnd(bytes) + 4);
  const parts: Buffer[] = [];
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return { body: Buffer.concat(parts), complete: false };
    const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
    if (size === 0) return { body: Buffer.concat(parts), complete: rest.subarray(eol).toString('latin1') === '\r\n\r\n' };
    if (rest.length < eol + 2 + size + 2) return { body: Buffer.concat(parts), complete: false };
    parts.push(rest.subarray(eol + 2, eol + 2 + size));
    rest = rest.subarray(eol + 2 + size + 2);
  }
}

/** What the client can decompress of what it read so far (a stream flushed but not ended decodes too). */
const unzipped = (bytes: Buffer) => zlib.gunzipSync(dechunk(bytes).body, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('latin1');

const event = (text: string) => encodeEvent({ data: text }, undefined);
const closedOf = (sink: GzipNodeSink) => new Promise<void>((resolve) => sink.onClose(resolve));

it('sends the gzip headers with the app headers, turns Nagle off, and gets each event out of the compressor at once', async () => {
  const made = await start();
  const c = rawClient();
  await waitUntil(() => made.length === 1 && headEnd(c.bytes) > 0, 'the headers');
  const head = headersOf(c.bytes).toLowerCase();
  expect(head).toContain('\r\ncontent-encoding: gzip');
  expect(head).toContain('\r\nvary: accept-encoding');
  expect(head).toContain('\r\nx-app: kept');
  expect(noDelay).toEqual([[true]]);
  // The stream's lead comes first; then every event is readable before the next is written.
  await waitUntil(() => unzipped(c.bytes) === ':\n', 'the lead');
  let expected = ':\n';
  for (let i = 0; i < 3; i++) {
    made[0]!.sink.write(event(`event ${i}`));
    expected += `data: event ${i}\n\n`;
    await waitUntil(() => unzipped(c.bytes) === expected, `event ${i}`);
  }
});

it('counts what the compressor holds on both sides and what the response holds, and drains through the compressor', async () => {
  const made = await start();
  const c = rawClient();
  await waitUntil(() => made.length === 1 && headEnd(c.bytes) > 0, 'the stream');
  const { sink, gzip, res } = made[0]!;
  c.socket.pause();
  // Random bytes do not compress: they fill the socket, the response, then both sides of the compressor.
  const sent: Buffer[] = [];
  const parts = () => [gzip.writableLength, gzip.readableLength, res.writableLength];
  for (let i = 0; i < 2000 && !parts().every((n) => n > 0); i++) {
    const piece = Buffer.from(randomBytes(48 * 1024).toString('base64'));
    sent.push(piece);
    sink.write(piece);
    await new Promise((r) => setTimeout(r, 1));
  }
  expect(parts().every((n) => n > 0)).toBe(true);
  expect(sink.bufferedBytes).toBe(gzip.writableLength + gzip.readableLength + res.writableLength);
  expect(sink.write(Buffer.from('x'))).toBe(false);
  sent.push(Buffer.from('x'));

  let drained = 0;
  sink.onDrain(() => drained++);
  c.socket.resume();
  await waitUntil(() => drained === 1, 'the drain', 20_000);
  sink.end();
  await waitUntil(() => c.tail.toString('latin1').endsWith('\r\n0\r\n\r\n'), 'the end of the stream', 20_000);
  // Everything written came through, in order (compared as one boolean: a failing diff of MBs says nothing).
  expect(zlib.gunzipSync(dechunk(c.bytes).body).equals(Buffer.concat([Buffer.from(':\n'), ...sent]))).toBe(true);
  expect(drained).toBe(1);
}, 30_000);

it('ends the gzip stream and the body once, and writes nothing after', async () => {
  const made = await start();
  const c = rawClient();
  await waitUntil(() => made.length === 1 && headEnd(c.bytes) > 0, 'the stream');
  const { sink, gzip } = made[0]!;
  const end = jest.spyOn(gzip, 'end');
  sink.write(event('last'));
  sink.end();
  sink.end();
  expect(end).toHaveBeenCalledTimes(1);
  expect(sink.write(event('too late'))).toBe(true);
  await waitUntil(() => dechunk(c.bytes).complete, 'the last chunk');
  // A complete gzip member: it decodes without a sync-flush allowance.
  expect(zlib.gunzipSync(dechunk(c.bytes).body).toString()).toBe(':\ndata: last\n\n');
});

it('destroys the response when the compressor fails, and closes the stream', async () => {
  const made = await start();
  const c = rawClient();
  await waitUntil(() => made.length === 1 && headEnd(c.bytes) > 0, 'the stream');
  const { sink, gzip } = made[0]!;
  const closed = closedOf(sink);
  gzip.destroy(new Error('compressor failed'));
  await closed;
  await waitUntil(() => c.closed, 'the connection to close');
  expect(dechunk(c.bytes).complete).toBe(false);
  expect(sink.write(event('after the failure'))).toBe(true);
});

it('runs every close callback in order when the peer leaves, stops the compressor, and writes nothing after', async () => {
  const made = await start();
  const c = rawClient();
  await waitUntil(() => made.length === 1 && headEnd(c.bytes) > 0, 'the stream');
  const { sink, gzip } = made[0]!;
  const order: string[] = [];
  sink.onClose(() => order.push('first'));
  sink.onClose(() => order.push('second'));
  const closed = closedOf(sink);
  c.socket.destroy();
  await closed;
  expect(order).toEqual(['first', 'second']);
  expect(gzip.destroyed).toBe(true);
  expect(sink.write(event('to nobody'))).toBe(true);
  sink.onClose(() => order.push('late'));
  expect(order).toEqual(['first', 'second']);
  await Promise.resolve();
  expect(order).toEqual(['first', 'second', 'late']);
});

it('destroy() closes the connection at once, stops the compressor, and makes later writes no-ops', async () => {
  const made = await start();
  const c = rawClient();
  await waitUntil(() => made.length === 1 && headEnd(c.bytes) > 0, 'the stream');
  const { sink, gzip } = made[0]!;
  sink.destroy();
  expect(gzip.destroyed).toBe(true);
  expect(sink.write(event('after destroy'))).toBe(true);
  await waitUntil(() => c.closed, 'the connection to close');
  expect(dechunk(c.bytes).complete).toBe(false);
});
