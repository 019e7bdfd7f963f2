/**
 * The Fetch API side (web/request, respond, handlers) with the runtime's own Request and Response:
 * what a handler answers, which headers it sets and leaves out, and when a stream is released.
 */
import zlib from 'node:zlib';
import { createHub, type Hub } from '@ssehub/core';
import { readWebBody, serveWeb, webAnswer, webPublishHandler, webPublishRequest, webStreamHandler, webStreamRequest } from '@ssehub/core/adapter';
import { createGzip } from '../src/zlib';
import { disconnectSignal } from '../src/web/respond';

let hub: Hub;
beforeEach(() => {
  hub = createHub({ heartbeat: 0 });
});
afterEach(() => hub.close());

const url = 'http://x.test/events';

/** Reads a stream's body until `until` shows up (or it ends), as text. */
async function readUntil(res: Response, until: string, gunzip = false): Promise<string> {
  const reader = res.body!.getReader();
  const parts: Uint8Array[] = [];
  const text = () => {
    const all = Buffer.concat(parts);
    return gunzip ? zlib.gunzipSync(all, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString() : all.toString();
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    if (text().includes(until)) break;
  }
  await reader.cancel();
  return text();
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe('webStreamRequest and webPublishRequest', () => {
  it('read the method, query and headers of a Request', () => {
    const r = webStreamRequest(new Request(`${url}?id=a&channel=x&channel=y`, { headers: { 'Last-Event-ID': '5' } }));
    expect(r.method).toBe('GET');
    expect(r.query.get('id')).toBe('a');
    expect(r.query.getAll('channel')).toEqual(['x', 'y']);
    expect(r.header('last-event-id')).toBe('5');
    expect(r.header('x-none')).toBeUndefined();
  });

  it('take the path given, else the URL path', async () => {
    const request = new Request('http://x.test/api/broadcast?q=1', { method: 'POST', body: 'abc', headers: { 'X-A': 'b' } });
    const p = webPublishRequest({ app: 1 }, request);
    expect(p).toMatchObject({ req: { app: 1 }, method: 'POST', path: '/api/broadcast' });
    expect(p.header('x-a')).toBe('b');
    expect(p.header('x-none')).toBeUndefined();
    expect(Buffer.from((await p.readBody(10))!).toString()).toBe('abc');
    expect(webPublishRequest({}, request, '/broadcast').path).toBe('/broadcast');
  });
});

describe('readWebBody', () => {
  /** A request whose body comes in the chunks given. */
  const chunked = (chunks: string[]) =>
    new Request(url, {
      method: 'POST',
      body: new ReadableStream({
        start(c) {
          for (const s of chunks) c.enqueue(new TextEncoder().encode(s));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);

  it('reads a body up to the limit, inclusive, across chunks', async () => {
    expect(Buffer.from((await readWebBody(chunked(['ab', 'cd', 'e']), 5))!).toString()).toBe('abcde');
    expect(await readWebBody(chunked(['ab', 'cd', 'ef']), 5)).toBeUndefined();
  });

  it('gives empty bytes for no body or an empty one', async () => {
    const none = await readWebBody(new Request(url), 5);
    expect(none).toEqual(new Uint8Array(0));
    expect(await readWebBody(chunked([]), 5)).toEqual(new Uint8Array(0));
  });

  it('cancels the body once it is past the limit', async () => {
    let cancelled = false;
    let pulls = 0;
    const request = new Request(url, {
      method: 'POST',
      body: new ReadableStream({
        pull(c) {
          pulls++;
          c.enqueue(new Uint8Array(10));
        },
        cancel() {
          cancelled = true;
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(await readWebBody(request, 25)).toBeUndefined();
    expect(cancelled).toBe(true);
    expect(pulls).toBeLessThan(10);
  });
});

describe('webAnswer', () => {
  it('says Connection: close only over HTTP/1 for an answer that closes, and has no body for HEAD, 204, 304', async () => {
    const a = { status: 503, headers: { 'X-A': '1' }, body: 'no', closeConnection: true };
    const h1 = webAnswer(a, false, true);
    expect(h1.status).toBe(503);
    expect(h1.headers.get('connection')).toBe('close');
    expect(h1.headers.get('x-a')).toBe('1');
    expect(await h1.text()).toBe('no');
    expect(webAnswer(a).headers.get('connection')).toBeNull();
    // Neither HEAD nor HTTP/1 unless said: the body is sent, and no Connection header.
    expect(await webAnswer(a).text()).toBe('no');
    expect(webAnswer({ ...a, closeConnection: false }, false, true).headers.get('connection')).toBeNull();
    expect(webAnswer(a, true).body).toBeNull();
    expect(webAnswer({ status: 204, headers: {}, body: 'x' }).body).toBeNull();
    expect(webAnswer({ status: 304, headers: {}, body: 'x' }).body).toBeNull();
  });
});

describe('serveWeb', () => {
  it('streams with the SSE headers and the app headers, Connection: close over HTTP/1 only', async () => {
    const res = serveWeb(hub, {}, { headers: { 'X-App': 'a' }, http1: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(res.headers.get('x-accel-buffering')).toBe('no'); // nginx would buffer the stream otherwise
    expect(res.headers.get('x-app')).toBe('a');
    expect(res.headers.get('connection')).toBe('close');
    expect(res.headers.get('content-encoding')).toBeNull();
    hub.broadcast({ data: 'hi', id: '1' });
    expect(await readUntil(res, 'data: hi')).toBe(':\nid: 1\ndata: hi\n\n');
    expect(serveWeb(hub, {}).headers.get('connection')).toBeNull();
  });

  it('gzips through the compressor given, saying so in its headers', async () => {
    const res = serveWeb(hub, {}, { gzip: (await createGzip())! });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('vary')).toBe('Accept-Encoding');
    hub.broadcast({ data: 'zipped', id: '1' });
    expect(await readUntil(res, 'zipped', true)).toBe(':\nid: 1\ndata: zipped\n\n');
  });

  it('releases the stream when its signal aborts, and at once for a signal already aborted', async () => {
    const ac = new AbortController();
    serveWeb(hub, {}, { signal: ac.signal });
    expect(hub.size).toBe(1);
    ac.abort();
    await until(() => hub.size === 0);
    const gone = new AbortController();
    gone.abort();
    serveWeb(hub, {}, { signal: gone.signal });
    await until(() => hub.size === 0);
    expect(hub.stats().connectionsOpened).toBe(2);
  });

  it('stops listening to the signal when the stream ends otherwise', async () => {
    const ac = new AbortController();
    const removed: string[] = [];
    const remove = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.removeEventListener = ((type: string, fn: EventListener) => {
      removed.push(type);
      remove(type, fn);
    }) as typeof ac.signal.removeEventListener;
    const res = serveWeb(hub, {}, { signal: ac.signal });
    await res.body!.cancel();
    await until(() => hub.size === 0);
    expect(removed).toEqual(['abort']);
  });

  it('refuses when the hub cannot take the stream: an EventSource-survivable 200 by default, the status otherwise, counted', async () => {
    const full = createHub({ heartbeat: 0, maxClients: 1 });
    try {
      serveWeb(full, {});
      const es = serveWeb(full, {}, { headers: { 'X-App': 'a' }, http1: true });
      expect(es.status).toBe(200);
      expect(es.headers.get('x-ssehub-refused')).toBe('hub-full');
      expect(es.headers.get('x-app')).toBe('a');
      expect(es.headers.get('connection')).toBe('close');
      expect(await es.text()).toMatch(/^retry: \d+\n: ssehub: too many connections; retry in \d+ ms\n$/);
      const plain = serveWeb(full, {}, { eventStream: false, retryAfter: 9 });
      expect(plain.status).toBe(503);
      expect(plain.headers.get('retry-after')).toBe('9');
      expect(plain.headers.get('connection')).toBeNull();
      expect(full.stats().refusals['hub-full']).toBe(2);
      expect(full.size).toBe(1);
    } finally {
      await full.close();
    }
  });
});

describe('disconnectSignal', () => {
  it("is the request's signal, except on Deno", () => {
    const request = new Request(url);
    expect(disconnectSignal(request)).toBe(request.signal);
    const g = globalThis as { Deno?: unknown };
    g.Deno = { version: { deno: '2.0.0' } };
    try {
      expect(disconnectSignal(request)).toBeUndefined();
      g.Deno = { version: {} };
      expect(disconnectSignal(request)).toBe(request.signal);
    } finally {
      delete g.Deno;
    }
  });
});

describe('webStreamHandler', () => {
  it('passes what is not its request on, answers refusals, and serves streams', async () => {
    const handle = webStreamHandler<Request>(hub, { maxChannels: 1 });
    expect(await handle(new Request(url, { method: 'POST' }), new Request(url, { method: 'POST' }))).toBeUndefined();
    const bad = new Request(`${url}?channel=a&channel=b`);
    const refused = (await handle(bad, bad, true))!;
    expect(refused.status).toBe(400);
    expect(await refused.text()).toBe('ssehub: too many channels (at most 1)\n');
    const ok = new Request(`${url}?channel=a&id=u`, { headers: { accept: 'text/event-stream' } });
    const res = (await handle(ok, ok, true))!;
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBe('close');
    expect(hub.clientSize('u')).toBe(1);
    hub.broadcast({ data: 'c', channel: 'a', id: '9' });
    expect(await readUntil(res, 'data: c')).toBe(':\nid: 9\ndata: c\n\n');
  });

  it('gzips when compress is on and the request accepts it', async () => {
    const handle = webStreamHandler<Request>(hub, { compress: true });
    const r = new Request(url, { headers: { 'accept-encoding': 'gzip' } });
    const res = (await handle(r, r))!;
    expect(res.headers.get('content-encoding')).toBe('gzip');
    hub.broadcast({ data: 'g', id: '1' });
    expect(await readUntil(res, 'data: g', true)).toBe(':\nid: 1\ndata: g\n\n');
    const plain = new Request(url);
    const res2 = (await handle(plain, plain))!;
    expect(res2.headers.get('content-encoding')).toBeNull();
    // Not said to be HTTP/1: no Connection header (HTTP/2 forbids it).
    expect(res2.headers.get('connection')).toBeNull();
    await res2.body!.cancel();
  });

  it('releases the stream when the request is aborted', async () => {
    const handle = webStreamHandler<Request>(hub);
    const ac = new AbortController();
    const r = new Request(url, { signal: ac.signal });
    await handle(r, r);
    expect(hub.size).toBe(1);
    ac.abort();
    await until(() => hub.size === 0);
  });

  it('checks its options when made', () => {
    expect(() => webStreamHandler(hub, { maxChannels: 0 })).toThrow(TypeError);
  });
});

describe('webPublishHandler', () => {
  it('publishes, answers HEAD without a body, and passes other paths on', async () => {
    const handle = webPublishHandler<Request>(hub, { token: 't' });
    const auth = { authorization: 'Bearer t' };
    const post = new Request('http://x.test/broadcast', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"data":"x","id":"p1"}' });
    const res = (await handle(post, post))!;
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ id: 'p1', consumers: 0 });
    expect(hub.lastEventId).toBe('p1');
    const head = new Request('http://x.test/', { method: 'HEAD', headers: auth });
    const h = (await handle(head, head))!;
    expect(h.status).toBe(200);
    expect(h.body).toBeNull();
    const get = new Request('http://x.test/', { headers: auth });
    expect(((await (await handle(get, get))!.json()) as { lastEventId: string }).lastEventId).toBe('p1');
    const other = new Request('http://x.test/elsewhere/deep', { headers: auth });
    expect(await handle(other, other)).toBeUndefined();
    const mounted = new Request('http://x.test/api/broadcast', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"data":"y"}' });
    expect((await handle(mounted, mounted, '/broadcast'))!.status).toBe(201);
  });
});
