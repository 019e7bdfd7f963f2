/**
 * The publish/admin API's decisions (policy/publish.ts), handler by handler with no server: routes,
 * access, every error's status and JSON body, the stats and their headers, and that nothing is
 * published on an error. packages/testing/test/publish.test.ts runs the same API over real servers.
 */
import { createPublishHandler, PUBLISH_DEFAULTS, type PublishOptions, type PublishRequest } from '@ssehub/core/adapter';
import { hubFactory, TestSink } from './test-sink';

const { hub, closeHubs } = hubFactory();
afterEach(closeHubs);

const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' };

/** A publish request; `body` is what readBody yields (as UTF-8 text, or raw bytes). */
function req(
  method: string,
  path: string,
  { body, headers = {}, parsedBody }: { body?: string | Uint8Array; headers?: Record<string, string>; parsedBody?: unknown } = {},
): PublishRequest<{ tag: string }> & { reads: number[] } {
  const reads: number[] = [];
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    req: { tag: 'framework-request' },
    method,
    path,
    header: (name) => lower[name],
    readBody: async (limit) => {
      reads.push(limit);
      const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body ?? new Uint8Array(0);
      return bytes.byteLength > limit ? undefined : bytes;
    },
    parsedBody,
    reads,
  };
}

const json = { 'content-type': 'application/json' };
const auth = { authorization: 'Bearer secret' };

function handler(options: PublishOptions<{ tag: string }> = { token: 'secret' }) {
  const h = hub();
  return { h, handle: createPublishHandler(h, options) };
}

const bodyOf = (a: { body: string } | undefined) => JSON.parse(a!.body) as unknown;

describe('createPublishHandler: options', () => {
  it('needs a token, an authorize hook or public: true', () => {
    const h = hub();
    expect(() => createPublishHandler(h, {})).toThrow(new TypeError('ssehub: publish() needs a token or an authorize hook (or public: true to serve it open)'));
    expect(() => createPublishHandler(h, { public: false })).toThrow(TypeError);
    expect(() => createPublishHandler(h, { public: true })).not.toThrow();
    expect(() => createPublishHandler(h, { authorize: () => true })).not.toThrow();
    expect(() => createPublishHandler(h, { token: ['a', 'b'] })).not.toThrow();
  });

  it('refuses empty or non-string tokens, a bad prefix, a bad maxBodyBytes', () => {
    const h = hub();
    expect(() => createPublishHandler(h, { token: '' })).toThrow(new TypeError('ssehub: publish token must be a non-empty string'));
    expect(() => createPublishHandler(h, { token: ['a', 3 as never] })).toThrow('ssehub: publish token must be a non-empty string');
    for (const prefix of ['api', '/api/', '/']) {
      expect(() => createPublishHandler(h, { public: true, prefix })).toThrow(new TypeError("ssehub: publish prefix must start with '/' and not end with it"));
    }
    expect(() => createPublishHandler(h, { public: true, maxBodyBytes: 0 })).toThrow(/maxBodyBytes/);
    expect(() => createPublishHandler(h, { public: true, cors: { origins: '*', credentials: true } })).toThrow(TypeError);
    expect(PUBLISH_DEFAULTS).toEqual({ maxBodyBytes: 65536, prefix: '' });
  });
});

describe('createPublishHandler: routes', () => {
  it('passes paths outside its own on, and answers 404 for unknown ones inside', async () => {
    const { handle } = handler();
    for (const path of ['/other', '/broadcasting', '/channelsx/a', '/x/broadcast']) expect(await handle(req('GET', path, { headers: auth }))).toBeUndefined();
    const unknown = await handle(req('GET', '/channels/a/b', { headers: auth }));
    expect(unknown).toEqual({ status: 404, headers: JSON_HEADERS, body: '{"error":"no such route"}' });
    expect((await handle(req('GET', '/clients', { headers: auth })))!.status).toBe(404);
    expect((await handle(req('POST', '/broadcast/x', { headers: auth })))!.status).toBe(404);
    // A route's path inside another route's is not that route.
    const nested = await handle(req('POST', '/broadcast/channels/a', { headers: { ...auth, ...json }, body: '{"data":1}' }));
    expect(nested).toEqual(unknown);
  });

  it('strips the prefix, and passes on what lies outside it', async () => {
    const { handle } = handler({ token: 'secret', prefix: '/api' });
    expect(await handle(req('GET', '/', { headers: auth }))).toBeUndefined();
    expect(await handle(req('GET', '/apix', { headers: auth }))).toBeUndefined();
    expect((await handle(req('GET', '/api', { headers: auth })))!.status).toBe(200);
    expect((await handle(req('GET', '/api/', { headers: auth })))!.status).toBe(200);
    expect((await handle(req('POST', '/api/broadcast', { headers: { ...auth, ...json }, body: '{"data":1}' })))!.status).toBe(201);
  });

  it('answers 405 with Allow for a method a route does not take, the method compared in any case', async () => {
    const { handle } = handler();
    expect(await handle(req('GET', '/broadcast', { headers: auth }))).toEqual({
      status: 405,
      headers: { ...JSON_HEADERS, Allow: 'POST, OPTIONS' },
      body: '{"error":"method GET not allowed here"}',
    });
    expect((await handle(req('post', '/', { headers: auth })))!.headers.Allow).toBe('GET, HEAD, OPTIONS');
    expect((await handle(req('put', '/channels/a', { headers: auth })))!.body).toBe('{"error":"method PUT not allowed here"}');
    expect((await handle(req('get', '/', { headers: auth })))!.status).toBe(200);
  });

  it('answers OPTIONS with Allow, without credentials, and 404 for an unknown route', async () => {
    const { handle } = handler();
    expect(await handle(req('OPTIONS', '/channels/a'))).toEqual({ status: 204, headers: { Allow: 'GET, HEAD, POST, DELETE, OPTIONS' }, body: '' });
    expect((await handle(req('OPTIONS', '/broadcast')))!.headers).toEqual({ Allow: 'POST, OPTIONS' });
    expect((await handle(req('OPTIONS', '/nope/x')))).toBeUndefined();
    expect(await handle(req('OPTIONS', '/channels/a/b'))).toEqual({ status: 404, headers: JSON_HEADERS, body: '{"error":"no such route"}' });
  });

  it('refuses a badly percent-encoded name with 400, after the credentials', async () => {
    const { handle } = handler();
    expect((await handle(req('GET', '/channels/%E0%A4%A')))!.status).toBe(401);
    expect(await handle(req('GET', '/channels/%E0%A4%A', { headers: auth }))).toEqual({
      status: 400,
      headers: JSON_HEADERS,
      body: '{"error":"the path is not valid percent-encoding"}',
    });
  });
});

describe('createPublishHandler: access', () => {
  it('answers 401 with a Bearer challenge without a token, 403 with a wrong one, and says nothing of routes', async () => {
    const { handle } = handler();
    expect(await handle(req('GET', '/nope/route'))).toBeUndefined();
    const none = await handle(req('GET', '/channels/a/b'));
    expect(none!.status).toBe(401);
    expect(none!.headers['WWW-Authenticate']).toBe('Bearer');
    const wrong = await handle(req('POST', '/broadcast', { headers: { authorization: 'Bearer nope', ...json }, body: '{"data":1}' }));
    expect(wrong!.status).toBe(403);
    expect(wrong!.headers['WWW-Authenticate']).toBeUndefined();
    expect(bodyOf(wrong)).toEqual({ error: expect.any(String) });
  });

  it('takes any of several tokens', async () => {
    const { handle } = handler({ token: ['one', 'two'] });
    expect((await handle(req('GET', '/', { headers: { authorization: 'Bearer two' } })))!.status).toBe(200);
    expect((await handle(req('GET', '/', { headers: { authorization: 'Bearer three' } })))!.status).toBe(403);
  });

  it('asks authorize with the framework request, after the token', async () => {
    const authorize = jest.fn(async (r: { tag: string }) => (r.tag === 'framework-request' ? true : false));
    const { handle } = handler({ token: 'secret', authorize });
    expect((await handle(req('GET', '/')))!.status).toBe(401);
    expect(authorize).not.toHaveBeenCalled();
    expect((await handle(req('GET', '/', { headers: auth })))!.status).toBe(200);
    expect(authorize).toHaveBeenCalledWith({ tag: 'framework-request' });
  });

  it("answers authorize's denials: false 403, a denial its status and message; a grant-like object is no allow", async () => {
    const answers: unknown[] = [false, { status: 401, message: 'who?' }, { status: 403 }, { clientId: 'x' }];
    let i = 0;
    const { h, handle } = handler({ authorize: () => answers[i++] as boolean });
    const got = [];
    for (let n = 0; n < answers.length; n++) {
      const a = (await handle(req('POST', '/broadcast', { headers: json, body: '{"data":1}' })))!;
      got.push([a.status, bodyOf(a)]);
    }
    expect(got).toEqual([
      [403, { error: 'forbidden' }],
      [401, { error: 'who?' }],
      [403, { error: 'forbidden' }],
      [403, { error: 'forbidden' }],
    ]);
    expect(h.lastEventId).toBeUndefined();
  });

  it('answers HEAD errors without a body', async () => {
    const { handle } = handler();
    const a = await handle(req('HEAD', '/'));
    expect(a!.status).toBe(401);
    expect(a!.body).toBe('');
  });

  it('applies CORS: 403 for another origin, headers on every answer for an allowed one, preflights', async () => {
    const cors = { origins: ['https://a.example'] };
    const { handle } = handler({ token: 'secret', cors });
    const evil = await handle(req('GET', '/', { headers: { ...auth, origin: 'https://evil.example' } }));
    expect(evil).toEqual({ status: 403, headers: JSON_HEADERS, body: '{"error":"origin not allowed"}' });
    const ok = await handle(req('GET', '/', { headers: { ...auth, origin: 'https://a.example' } }));
    expect(ok!.headers['Access-Control-Allow-Origin']).toBe('https://a.example');
    const denied = await handle(req('GET', '/', { headers: { origin: 'https://a.example' } }));
    expect(denied!.status).toBe(401);
    expect(denied!.headers['Access-Control-Allow-Origin']).toBe('https://a.example');
    const pre = await handle(req('OPTIONS', '/broadcast', { headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' } }));
    expect(pre!.status).toBe(204);
    expect(pre!.headers['Access-Control-Allow-Methods']).toBe('POST');
    expect(pre!.headers['Access-Control-Allow-Headers']).toContain('Authorization');
    expect(pre!.headers['Access-Control-Allow-Headers']).toContain('Content-Type');
    const head = await handle(req('HEAD', '/', { headers: { ...auth, origin: 'https://evil.example' } }));
    expect(head!.body).toBe('');
  });
});

describe('createPublishHandler: publishing', () => {
  it('broadcasts, and answers 201 with the id and the streams reached', async () => {
    const { h, handle } = handler();
    h.connect(new TestSink());
    h.connect(new TestSink(), { channels: ['news'] });
    const a = await handle(req('POST', '/broadcast', { headers: { ...auth, ...json }, body: '{"data":{"x":1},"event":"e","id":"p1","retry":100}' }));
    expect(a).toEqual({ status: 201, headers: JSON_HEADERS, body: '{"id":"p1","consumers":2}' });
    expect(h.lastEventId).toBe('p1');
  });

  it('publishes to one channel, or one client id', async () => {
    const { h, handle } = handler();
    const inChannel = new TestSink();
    const mine = new TestSink();
    h.connect(inChannel, { channels: ['a b'] });
    h.connect(mine, { clientId: 'u/1' });
    h.connect(new TestSink());
    const ch = await handle(req('POST', '/channels/a%20b', { headers: { ...auth, ...json }, body: '{"data":"c"}' }));
    expect(bodyOf(ch)).toEqual({ id: expect.any(String), consumers: 1 });
    const cl = await handle(req('POST', '/clients/u%2F1', { headers: { ...auth, ...json }, body: '{"data":"p"}' }));
    expect(bodyOf(cl)).toEqual({ id: expect.any(String), consumers: 1 });
    await new Promise((r) => setImmediate(r));
    expect(inChannel.text).toContain('data: c\n\n');
    expect(inChannel.text).not.toContain('data: p');
    expect(mine.text).toContain('data: p\n\n');
    expect(mine.text).not.toContain('data: c');
  });

  it('takes an integer id as its decimal string, and refuses other numbers', async () => {
    const { h, handle } = handler();
    const post = (body: string) => handle(req('POST', '/broadcast', { headers: { ...auth, ...json }, body }));
    expect(bodyOf(await post('{"data":1,"id":42}'))).toEqual({ id: '42', consumers: 0 });
    expect(await post('{"data":1,"id":4.5}')).toEqual({ status: 400, headers: JSON_HEADERS, body: '{"error":"id must be a string or an integer","field":"id"}' });
    expect(h.lastEventId).toBe('42');
  });

  it('accepts JSON content types with a suffix or parameters, and refuses others with 415', async () => {
    const { handle } = handler();
    const post = (type: string | undefined) =>
      handle(req('POST', '/broadcast', { headers: { ...auth, ...(type ? { 'content-type': type } : {}) }, body: '{"data":1}' }));
    for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/merge-patch+json', 'application/json ;x=y']) {
      expect((await post(type))!.status).toBe(201);
    }
    for (const type of [undefined, 'text/plain', 'application/jsonx', 'xapplication/json', 'application/json-seq']) {
      expect(await post(type)).toEqual({ status: 415, headers: JSON_HEADERS, body: '{"error":"the body must be application/json"}' });
    }
  });

  it('refuses a body over maxBodyBytes with 413, by its Content-Length or while reading; exactly the limit passes', async () => {
    const { h, handle } = handler({ token: 'secret', maxBodyBytes: 20 });
    const body = '{"data":"123456789"}'; // 20 bytes
    const ok = req('POST', '/broadcast', { headers: { ...auth, ...json }, body });
    expect((await handle(ok))!.status).toBe(201);
    expect(ok.reads).toEqual([20]);
    const declared = req('POST', '/broadcast', { headers: { ...auth, ...json, 'content-length': '21' }, body });
    expect(await handle(declared)).toEqual({ status: 413, headers: JSON_HEADERS, body: '{"error":"the body is larger than 20 bytes"}' });
    expect(declared.reads).toEqual([]); // refused before reading
    const read = req('POST', '/broadcast', { headers: { ...auth, ...json }, body: '{"data":"1234567890"}' });
    expect(await handle(read)).toEqual({ status: 413, headers: JSON_HEADERS, body: '{"error":"the body is larger than 20 bytes"}' });
    // A Content-Length of exactly the limit is read, not refused.
    const exact = req('POST', '/broadcast', { headers: { ...auth, ...json, 'content-length': '20' }, body });
    expect((await handle(exact))!.status).toBe(201);
    expect(exact.reads).toEqual([20]);
    expect(h.stats().eventsPublished).toBe(2);
  });

  it('hands on only the fields the body has (listen() sees no event or retry key it did not send)', async () => {
    const { h, handle } = handler();
    const got: object[] = [];
    const done = (async () => {
      for await (const m of h.listen()) {
        got.push(m);
        if (got.length === 2) break;
      }
    })();
    await handle(req('POST', '/broadcast', { headers: { ...auth, ...json }, body: '{"data":"bare"}' }));
    await handle(req('POST', '/broadcast', { headers: { ...auth, ...json }, body: '{"data":"full","event":"e","id":"i","retry":5}' }));
    await done;
    expect(got.map((m) => Object.keys(m).sort())).toEqual([
      ['data', 'id'],
      ['data', 'event', 'id', 'retry'],
    ]);
  });

  it('refuses an id that is neither a string nor a number, naming the field', async () => {
    const { h, handle } = handler();
    for (const id of ['true', '{}', '[1]']) {
      const a = await handle(req('POST', '/broadcast', { headers: { ...auth, ...json }, body: `{"data":1,"id":${id}}` }));
      expect(a).toEqual({ status: 400, headers: JSON_HEADERS, body: '{"error":"id must be a string","field":"id"}' });
    }
    expect(h.stats().eventsPublished).toBe(0);
  });

  it('uses 64 KiB as the default body limit', async () => {
    const { handle } = handler();
    const r = req('POST', '/broadcast', { headers: { ...auth, ...json }, body: '{"data":1}' });
    await handle(r);
    expect(r.reads).toEqual([65536]);
  });

  it('refuses a body that is not UTF-8, or not JSON, with 400', async () => {
    const { handle } = handler();
    const post = (body: string | Uint8Array) => handle(req('POST', '/broadcast', { headers: { ...auth, ...json }, body }));
    expect(await post(new Uint8Array([0x7b, 0xff, 0x7d]))).toEqual({ status: 400, headers: JSON_HEADERS, body: '{"error":"the body is not valid UTF-8"}' });
    expect(await post('{data:1}')).toEqual({ status: 400, headers: JSON_HEADERS, body: '{"error":"the body is not valid JSON"}' });
  });

  it('refuses what is not a message, naming the field', async () => {
    const { h, handle } = handler();
    const post = async (body: string) => bodyOf(await handle(req('POST', '/broadcast', { headers: { ...auth, ...json }, body })));
    const notObject = { error: 'the body must be a JSON object like {"data": ...}' };
    expect(await post('[1]')).toEqual(notObject);
    expect(await post('null')).toEqual(notObject);
    expect(await post('"x"')).toEqual(notObject);
    expect(await post('{}')).toEqual({ error: 'data is required', field: 'data' });
    expect(await post('{"data":1,"event":"a\\nb"}')).toEqual({ error: 'event must not contain CR, LF or NUL', field: 'event' });
    expect(await post('{"data":1,"retry":-1}')).toEqual({ error: 'retry must be a non-negative integer, got -1', field: 'retry' });
    expect(await post('{"data":1,"id":""}')).toEqual({ error: 'id must not be empty (an empty id resets the client)', field: 'id' });
    expect(h.stats().eventsPublished).toBe(0);
  });

  it("refuses an id longer than this hub's limit with 400, not a 500", async () => {
    const h = hub({ maxLastEventIdLength: 3 });
    const handle = createPublishHandler(h, { public: true });
    const a = await handle(req('POST', '/broadcast', { headers: json, body: '{"data":1,"id":"abcd"}' }));
    expect(a).toEqual({
      status: 400,
      headers: JSON_HEADERS,
      body: '{"error":"id must be at most 3 characters (a longer Last-Event-ID is not looked up)"}',
    });
  });

  it('refuses a channel name nothing could reach with 400', async () => {
    const { handle } = handler();
    const a = await handle(req('POST', '/channels/a%0Ab', { headers: { ...auth, ...json }, body: '{"data":1}' }));
    expect(a).toEqual({ status: 400, headers: JSON_HEADERS, body: '{"error":"channel must not contain CR, LF or NUL","field":"channel"}' });
  });

  it('uses a body parsed upstream instead of reading', async () => {
    const { h, handle } = handler();
    const r = req('POST', '/broadcast', { headers: { ...auth, ...json }, parsedBody: { data: 'parsed', id: 'up' } });
    expect(bodyOf(await handle(r))).toEqual({ id: 'up', consumers: 0 });
    expect(r.reads).toEqual([]);
    expect(h.lastEventId).toBe('up');
  });

  it('answers 503 once the hub is closed, publishing nothing', async () => {
    const { h, handle } = handler();
    await h.close();
    expect(await handle(req('POST', '/broadcast', { headers: { ...auth, ...json }, body: '{"data":1}' }))).toEqual({
      status: 503,
      headers: JSON_HEADERS,
      body: '{"error":"the hub is closed"}',
    });
  });
});

describe('createPublishHandler: stats and disconnects', () => {
  it('GET / gives the consumers, the channels and the last id; HEAD the same as headers', async () => {
    const { h, handle } = handler();
    expect(bodyOf(await handle(req('GET', '/', { headers: auth })))).toEqual({ consumers: 0, channels: [], lastEventId: null });
    h.connect(new TestSink(), { channels: ['a', 'b,c'] });
    h.connect(new TestSink());
    h.broadcast({ data: 1, id: 'last' });
    const get = await handle(req('GET', '', { headers: auth }));
    expect(bodyOf(get)).toEqual({ consumers: 2, channels: ['a', 'b,c'], lastEventId: 'last' });
    expect(get!.headers).toEqual({ ...JSON_HEADERS, 'X-Available-Channels': 'a,b%2Cc', 'X-Consumer-Count': '2' });
    const head = await handle(req('HEAD', '/', { headers: auth }));
    expect(head).toEqual({ status: 200, headers: get!.headers, body: '' });
  });

  it('GET a channel or a client id: whether it exists and how many streams, as JSON and headers', async () => {
    const { h, handle } = handler();
    h.connect(new TestSink(), { channels: ['a'], clientId: 'u' });
    h.connect(new TestSink(), { channels: ['a'] });
    const ch = await handle(req('GET', '/channels/a', { headers: auth }));
    expect(bodyOf(ch)).toEqual({ channel: 'a', exists: true, consumers: 2, channels: ['a'] });
    expect(ch!.headers).toMatchObject({ 'X-Consumer-Count': '2', 'X-Channel-Exists': 'true' });
    const none = await handle(req('HEAD', '/channels/zz', { headers: auth }));
    expect(none!.headers).toMatchObject({ 'X-Consumer-Count': '0', 'X-Channel-Exists': 'false' });
    expect(bodyOf(await handle(req('GET', '/channels/zz', { headers: auth })))).toEqual({ channel: 'zz', exists: false, consumers: 0, channels: ['a'] });
    const clientHead = await handle(req('HEAD', '/clients/u', { headers: auth }));
    expect(clientHead).toMatchObject({ status: 200, body: '' });
    expect(clientHead!.headers).toMatchObject({ 'X-Consumer-Count': '1', 'X-Client-Connected': 'true' });
    const cl = await handle(req('GET', '/clients/u', { headers: auth }));
    expect(bodyOf(cl)).toEqual({ clientId: 'u', connected: true, consumers: 1, channels: ['a'] });
    expect(cl!.headers).toMatchObject({ 'X-Consumer-Count': '1', 'X-Client-Connected': 'true' });
    const gone = await handle(req('GET', '/clients/v', { headers: auth }));
    expect(bodyOf(gone)).toMatchObject({ connected: false, consumers: 0 });
    expect(gone!.headers['X-Client-Connected']).toBe('false');
  });

  it('cuts X-Available-Channels at 4096 characters and says so', async () => {
    const { h, handle } = handler();
    // 400 names of 10 characters plus commas: 4399 characters in all.
    const names = Array.from({ length: 400 }, (_, i) => `channel${String(i).padStart(3, '0')}`);
    h.connect(new TestSink(), { channels: names });
    const a = await handle(req('HEAD', '/', { headers: auth }));
    const list = a!.headers['X-Available-Channels']!;
    expect(list.length).toBeLessThanOrEqual(4096);
    expect(list.length).toBeGreaterThan(4096 - 11);
    expect(list.split(',')).toEqual(names.slice(0, list.split(',').length));
    expect(a!.headers['X-Available-Channels-Truncated']).toBe('true');
    expect(bodyOf(await handle(req('GET', '/', { headers: auth })))).toMatchObject({ channels: names });
    // A list of exactly 4096 characters is whole.
    const exact = handler();
    exact.h.connect(new TestSink(), { channels: ['x'.repeat(4096)] });
    const whole = (await exact.handle(req('HEAD', '/', { headers: auth })))!.headers;
    expect([whole['X-Available-Channels'], whole['X-Available-Channels-Truncated']]).toEqual(['x'.repeat(4096), undefined]);
    const small = handler();
    small.h.connect(new TestSink(), { channels: ['x'] });
    expect((await small.handle(req('HEAD', '/', { headers: auth })))!.headers['X-Available-Channels-Truncated']).toBeUndefined();
  });

  it('DELETE a channel or a client id ends those streams and says how many', async () => {
    const { h, handle } = handler();
    h.connect(new TestSink(), { channels: ['a'] });
    h.connect(new TestSink(), { channels: ['a'], clientId: 'u' });
    h.connect(new TestSink(), { clientId: 'u' });
    expect(await handle(req('DELETE', '/channels/a', { headers: auth }))).toEqual({ status: 200, headers: JSON_HEADERS, body: '{"closed":2}' });
    expect(h.size).toBe(1);
    expect(bodyOf(await handle(req('DELETE', '/clients/u', { headers: auth })))).toEqual({ closed: 1 });
    expect(h.size).toBe(0);
    expect(bodyOf(await handle(req('DELETE', '/clients/u', { headers: auth })))).toEqual({ closed: 0 });
  });
});
