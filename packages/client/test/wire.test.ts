/**
 * @ssehub/client against a scripted node:http server that sends what a hub never would: odd
 * fields, NUL and empty ids, CR line ends, a character split across writes, a broken socket,
 * more events than the reader takes, and no server at all.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { subscribe, type EventStream, type SseEvent, type StreamError } from '@ssehub/client';
import { sleep, waitUntil } from '../../testing/src/clients';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** A real server whose n-th request is answered by the n-th handler (204 past the last). */
async function scripted(handlers: Handler[]) {
  const requests: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    const handler = handlers[requests.length];
    requests.push(req.headers);
    if (handler) void handler(req, res);
    else res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const streamHead = { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' };

/** Writes and waits until the bytes are on the socket, so the next write arrives as its own chunk. */
function writeApart(res: http.ServerResponse, chunk: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => res.write(chunk, () => setTimeout(resolve, 30)));
}

const streams: EventStream[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  for (const close of closers.splice(0)) await close();
});
async function serve(handlers: Handler[]) {
  const s = await scripted(handlers);
  closers.push(s.close);
  return s;
}
function track(s: EventStream): { events: SseEvent[] } {
  streams.push(s);
  const events: SseEvent[] = [];
  s.on('event', (e) => events.push(e));
  return { events };
}

it('parses the wire as the spec says and resumes from the last id, or from none after an empty id:', async () => {
  const emoji = new TextEncoder().encode('data: é🌍\n\n');
  const server = await serve([
    async (_req, res) => {
      res.writeHead(200, streamHead);
      await writeApart(res, 'retry: 1.5\n\nevent: ping\n\nData: x\n\n');
      await writeApart(res, 'id: 1\ndata: a\ndata: b\n\n');
      await writeApart(res, 'id: x\0y\ndata: c\n\n');
      await writeApart(res, 'event: crlf\r\ndata: d\r\n\r\ndata: e\r\r');
      // The split falls inside the emoji's four bytes.
      await writeApart(res, emoji.subarray(0, 10));
      await writeApart(res, emoji.subarray(10));
      await writeApart(res, 'id: 7\ndata: f\n\ndata: never dispatched');
      res.end();
    },
    (_req, res) => {
      res.writeHead(200, streamHead);
      res.end('id:\ndata: g\n\n');
    },
  ]);
  const stream = subscribe(server.url, { retry: 20 });
  const { events } = track(stream);
  await expect(stream.closed).resolves.toBeUndefined();

  expect(events.map((e) => [e.type, e.data, e.id, e.lastEventId])).toEqual([
    ['message', 'a\nb', '1', '1'],
    // The id holding NUL is ignored whole: the last id stays 1.
    ['message', 'c', undefined, '1'],
    ['crlf', 'd', undefined, '1'],
    ['message', 'e', undefined, '1'],
    ['message', 'é🌍', undefined, '1'],
    ['message', 'f', '7', '7'],
    ['message', 'g', '', ''],
  ]);
  // retry: 1.5 is not all digits: the option's 20 ms stayed in force.
  expect(stream.retry).toBe(20);
  expect(server.requests.map((h) => h['last-event-id'])).toEqual([undefined, '7', undefined]);
  expect(server.requests[0]!.accept).toBe('text/event-stream');
});

it('applies backpressure: an iterator that stops taking events stops the reading', async () => {
  const total = 10000;
  const payload = 'x'.repeat(2000);
  let written = 0;
  const server = await serve([
    async (_req, res) => {
      res.writeHead(200, streamHead);
      for (let i = 0; i < total; i++) {
        written++;
        if (!res.write(`id: ${i}\ndata: ${payload}\n\n`)) await new Promise((r) => res.once('drain', r));
        if (res.destroyed) return;
      }
      res.end();
    },
  ]);
  const stream = subscribe(server.url, { retry: 20, highWaterMark: 10 });
  let dispatched = 0;
  stream.on('event', () => dispatched++);
  streams.push(stream);
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  expect(first.value?.id).toBe('0');
  await sleep(300);
  // Paused, only the mark plus a chunk or two got in, and the server's writes backed up short of
  // the 20 MB (a few MB sit in socket and fetch buffers).
  expect(dispatched).toBeLessThan(100);
  expect(written).toBeLessThan(total);

  const ids: string[] = [first.value!.id!];
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    ids.push(next.value.id!);
  }
  expect(ids).toEqual(Array.from({ length: total }, (_, i) => String(i)));
  expect(server.requests).toHaveLength(2); // the stream ended, the client came back, 204 stopped it
  // 20 MB through a paused and resumed iterator: about 2 s on a quiet machine, past jest's 5 s under load.
}, 30_000);

it('retries network errors with growing delays, resumes after a broken body, and stops on closeNow', async () => {
  const server = await serve([
    async (_req, res) => {
      res.writeHead(200, streamHead);
      await writeApart(res, 'id: n1\ndata: before the break\n\n');
      res.socket?.destroy();
    },
  ]);
  const errors: { kind: string; at: number }[] = [];
  let stopAt = Infinity;
  const stream = subscribe(server.url, {
    retry: 20,
    maxRetry: 100,
    onError: (err) => {
      errors.push({ kind: err.kind, at: Date.now() });
      return errors.length >= stopAt ? { closeNow: true } : undefined;
    },
  });
  const { events } = track(stream);
  // The broken body is a network error; the next request resumes after n1 and gets the 204.
  await expect(stream.closed).resolves.toBeUndefined();
  expect(events.map((e) => e.id)).toEqual(['n1']);
  expect(errors.map((e) => e.kind)).toEqual(['network']);
  expect(server.requests.map((h) => h['last-event-id'])).toEqual([undefined, 'n1']);

  // Nothing listens on this port any more: every attempt is refused.
  const { url } = server;
  await server.close();
  closers.length = 0;
  errors.length = 0;
  stopAt = 5;
  const refused = subscribe(url, {
    retry: 20,
    maxRetry: 100,
    onError: (err) => {
      errors.push({ kind: err.kind, at: Date.now() });
      return errors.length >= stopAt ? { closeNow: true } : undefined;
    },
  });
  streams.push(refused);
  const last = await refused.closed;
  expect(last?.kind).toBe('network');
  expect(errors.map((e) => e.kind)).toEqual(['network', 'network', 'network', 'network', 'network']);
  const gaps = errors.slice(1).map((e, i) => e.at - errors[i]!.at);
  // 20 ms, then doubling with jitter in the upper half: [20, 40], [40, 80], [50, 100] (capped).
  expect(gaps[0]).toBeGreaterThanOrEqual(18);
  expect(gaps[2]).toBeGreaterThanOrEqual(38);
  expect(gaps[3]).toBeGreaterThanOrEqual(48);
  expect(Math.max(...gaps)).toBeLessThan(400);
});

it('readTimeout: heartbeats keep the stream alive, silence drops it and the retry resumes from the last id', async () => {
  const server = await serve([
    async (_req, res) => {
      res.writeHead(200, streamHead);
      await writeApart(res, 'id: t1\ndata: x\n\n');
      // Comments every 50 ms for 500 ms, then silence with the connection still open.
      for (let i = 0; i < 10 && !res.destroyed; i++) await writeApart(res, ': heartbeat\n\n').then(() => sleep(20));
    },
  ]);
  const errors: { message: string; kind: string; at: number }[] = [];
  let openedAt = 0;
  const stream = subscribe(server.url, {
    retry: 20,
    readTimeout: 200,
    onError: (err) => void errors.push({ message: err.message, kind: err.kind, at: Date.now() }),
  });
  stream.on('open', () => (openedAt ||= Date.now()));
  const { events } = track(stream);
  await expect(stream.closed).resolves.toBeUndefined();
  expect(events.map((e) => e.id)).toEqual(['t1']);
  expect(errors.map((e) => [e.kind, e.message])).toEqual([['network', 'ssehub client: stream broke: nothing received for 200 ms']]);
  expect(errors[0]!.at - openedAt).toBeGreaterThanOrEqual(650);
  expect(server.requests.map((h) => h['last-event-id'])).toEqual([undefined, 't1']);
});

it('closes when its signal aborts, and a throwing listener goes to the logger without stopping the stream', async () => {
  const server = await serve([
    async (_req, res) => {
      res.writeHead(200, streamHead);
      await writeApart(res, 'data: one\n\n');
      await writeApart(res, 'data: two\n\n');
    },
  ]);
  const warnings: unknown[][] = [];
  const abort = new AbortController();
  const stream = subscribe(server.url, { signal: abort.signal, logger: { warn: (...a) => warnings.push(a) } });
  const { events } = track(stream);
  stream.on('event', () => {
    throw new Error('listener bug');
  });
  await waitUntil(() => events.length === 2, 'both events');
  expect(warnings).toHaveLength(2);
  expect(String(warnings[0]![0])).toContain("'event' listener threw");
  abort.abort();
  expect(stream.readyState).toBe('closed');
  await expect(stream.closed).resolves.toBeUndefined();
  expect(server.requests).toHaveLength(1);
});

it('refuses bad options when created', () => {
  expect(() => subscribe('http://127.0.0.1:1/', { retry: -1 })).toThrow(TypeError);
  expect(() => subscribe('http://127.0.0.1:1/', { maxRetry: Number.NaN })).toThrow(TypeError);
  expect(() => subscribe('http://127.0.0.1:1/', { highWaterMark: 0 })).toThrow(TypeError);
});

it('reports errors to error listeners as StreamError with the status', async () => {
  const server = await serve([(_req, res) => void res.writeHead(500, { 'Retry-After': '3' }).end('down')]);
  const stream = subscribe(server.url, { retry: 20 });
  streams.push(stream);
  const seen: StreamError[] = [];
  stream.on('error', (e) => seen.push(e));
  const closedWith = await stream.closed;
  expect(seen).toHaveLength(1);
  expect(seen[0]).toBe(closedWith);
  expect(seen[0]!.name).toBe('StreamError');
  expect([seen[0]!.status, seen[0]!.retryAfter, seen[0]!.url]).toEqual([500, 3000, server.url]);
  expect(server.requests).toHaveLength(1);
});
