/**
 * What a stream request turns into before any stream opens (policy/admission, refusal,
 * stream-options, http), read off the answers exactly: statuses, headers present and absent, bodies,
 * and what the hub counts. The suites over real servers show the same answers reach clients.
 */
import {
  admitStream,
  checkStreamOptions,
  connectParams,
  hubRefusal,
  jsonAnswer,
  refusal,
  REFUSAL_HEADER,
  SSE_HEADERS,
  STREAM_DEFAULTS,
  textAnswer,
  wantsEventStream,
  type Admission,
  type StreamOptions,
  type StreamRequest,
} from '@ssehub/core/adapter';
import { bodiless } from '../src/policy/http';
import { hubFactory, TestSink } from './test-sink';

const { hub, closeHubs } = hubFactory();
afterEach(closeHubs);

/** A request as an adapter reads it: method, query string and lower-case headers. */
function request(method = 'GET', query = '', headers: Record<string, string> = {}): StreamRequest {
  return { method, query: new URLSearchParams(query), header: (name) => headers[name] };
}

const ES = { accept: 'text/event-stream' };

function answerOf(a: Admission) {
  if (a.kind !== 'answer') throw new Error(`expected an answer, got ${a.kind}`);
  return a.answer;
}

function streamOf(a: Admission) {
  if (a.kind !== 'stream') throw new Error(`expected a stream, got ${JSON.stringify(a)}`);
  return a;
}

describe('admitStream', () => {
  it('passes methods other than GET on, and OPTIONS unless CORS is configured', async () => {
    const h = hub();
    for (const method of ['POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS']) {
      expect(await admitStream(h, {}, request(method), {})).toEqual({ kind: 'pass' });
    }
    expect(h.stats().refusals).toEqual({ 'hub-full': 0, 'client-limit': 0, 'shutting-down': 0, unauthorized: 0, forbidden: 0 });
  });

  it('answers a preflight when CORS is configured, allowing GET and Last-Event-ID', async () => {
    const h = hub();
    const cors = { origins: ['https://a.example'] };
    const a = answerOf(
      await admitStream(h, {}, request('OPTIONS', '', { origin: 'https://a.example', 'access-control-request-method': 'GET' }), { cors }),
    );
    expect(a.status).toBe(204);
    expect(a.headers['Access-Control-Allow-Origin']).toBe('https://a.example');
    expect(a.headers['Access-Control-Allow-Methods']).toBe('GET');
    expect(a.headers['Access-Control-Allow-Headers']).toContain('Last-Event-ID');
  });

  it('refuses an origin outside the allowlist with 403 before anything else, and counts it as forbidden', async () => {
    const h = hub();
    const authorize = jest.fn(() => true);
    const a = answerOf(
      await admitStream(h, {}, request('GET', '', { ...ES, origin: 'https://evil.example' }), { cors: { origins: ['https://a.example'] }, authorize }),
    );
    expect(a).toEqual({ status: 403, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'ssehub: origin not allowed\n' });
    expect(authorize).not.toHaveBeenCalled();
    expect(h.stats().refusals.forbidden).toBe(1);
  });

  it('admits a GET with the query defaults: ?id=, every ?channel=, Last-Event-ID from the header', async () => {
    const h = hub();
    const s = streamOf(await admitStream(h, {}, request('GET', 'id=u1&channel=a&channel=b&channel=a', { ...ES, 'last-event-id': '7' }), {}));
    expect(s.params).toEqual({ clientId: 'u1', channels: new Set(['a', 'b']), lastEventId: '7' });
    expect(s.headers).toEqual({});
    expect(s.gzip).toBe(false);
    expect(s.eventStream).toBe(true);
  });

  it('sends the CORS headers and the app\'s own headers with an admitted stream', async () => {
    const h = hub();
    const s = streamOf(
      await admitStream(h, {}, request('GET', '', { origin: 'https://a.example' }), {
        cors: { origins: ['https://a.example'] },
        headers: { 'X-App': '1' },
      }),
    );
    expect(s.headers).toEqual({ 'X-App': '1', 'Access-Control-Allow-Origin': 'https://a.example', Vary: 'Origin' });
    expect(s.eventStream).toBe(false);
  });

  it('refuses every stream while the hub drains or is closed: shutting-down, counted', async () => {
    const h = hub();
    await h.close();
    const a = answerOf(await admitStream(h, {}, request('GET', '', ES), {}));
    expect(a.status).toBe(200);
    expect(a.headers[REFUSAL_HEADER]).toBe('shutting-down');
    expect(a.headers['Retry-After']).toBe('1');
    expect(h.stats().refusals['shutting-down']).toBe(1);
  });

  it('refuses when maxClients streams are open (hub-full), and admits at one below', async () => {
    const h = hub({ maxClients: 2 });
    h.connect(new TestSink());
    streamOf(await admitStream(h, {}, request(), {}));
    h.connect(new TestSink());
    const a = answerOf(await admitStream(h, {}, request(), { retryAfter: 9 }));
    expect(a.status).toBe(503);
    expect(a.headers['Retry-After']).toBe('9');
    expect(a.headers[REFUSAL_HEADER]).toBe('hub-full');
    expect(h.stats().refusals['hub-full']).toBe(1);
  });

  it('asks authorize only after the hub could take the stream', async () => {
    const h = hub();
    await h.close();
    const authorize = jest.fn(() => true);
    await admitStream(h, {}, request(), { authorize });
    expect(authorize).not.toHaveBeenCalled();
  });

  it('applies authorize: false and other answers refuse with 403, a 401 denial with 401, each counted', async () => {
    const h = hub();
    const deny = async (said: unknown) => answerOf(await admitStream(h, { user: 1 }, request(), { authorize: () => said as boolean }));
    expect(await deny(false)).toEqual({ status: 403, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'ssehub: forbidden\n' });
    expect((await deny(undefined)).status).toBe(403);
    expect(await deny({ status: 401, message: 'log in' })).toEqual({
      status: 401,
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      body: 'ssehub: log in\n',
    });
    expect(h.stats().refusals).toMatchObject({ unauthorized: 1, forbidden: 2 });
  });

  it('carries the CORS headers on a denial', async () => {
    const h = hub();
    const a = answerOf(
      await admitStream(h, {}, request('GET', '', { origin: 'https://a.example' }), {
        cors: { origins: ['https://a.example'] },
        authorize: () => false,
      }),
    );
    expect(a.headers['Access-Control-Allow-Origin']).toBe('https://a.example');
  });

  it('hands authorize the framework request and keeps the requested identity on true', async () => {
    const h = hub();
    const req = { user: 'x' };
    const authorize = jest.fn(async () => true);
    const s = streamOf(await admitStream(h, req, request('GET', 'id=u1&channel=a'), { authorize }));
    expect(authorize).toHaveBeenCalledWith(req);
    expect(s.params.clientId).toBe('u1');
    expect([...s.params.channels!]).toEqual(['a']);
  });

  it('applies a grant: its client id replaces ?id=, channels narrow to the granted ones', async () => {
    const h = hub();
    const admit = async (g: object) => streamOf(await admitStream(h, {}, request('GET', 'id=asked&channel=a&channel=b&channel=c'), { authorize: () => g })).params;
    expect(await admit({ clientId: 'granted', channels: ['c', 'a', 'z'] })).toMatchObject({ clientId: 'granted', channels: new Set(['a', 'c']) });
    // No client id in the grant: the stream has none, whatever ?id= asked.
    expect((await admit({ channels: ['a'] })).clientId).toBeUndefined();
    expect((await admit({ clientId: '' })).clientId).toBeUndefined();
    expect((await admit({ clientId: 5 })).clientId).toBeUndefined();
    // No channels in the grant: every requested one.
    expect((await admit({ clientId: 'g' })).channels).toEqual(new Set(['a', 'b', 'c']));
    expect((await admit({ channels: [] })).channels).toEqual(new Set());
  });

  it('takes a channels option that returns nothing as no channels, with a grant or without', async () => {
    const h = hub();
    const channels = () => undefined as unknown as string[];
    const alone = streamOf(await admitStream(h, {}, request('GET', 'channel=a'), { channels }));
    expect(alone.params.channels).toEqual(new Set());
    const granted = streamOf(await admitStream(h, {}, request('GET', 'channel=a'), { channels, authorize: () => ({ channels: ['a'] }) }));
    expect(granted.params.channels).toEqual(new Set());
  });

  it('refuses a channel name nothing could reach with 400 and the reason', async () => {
    const h = hub();
    const a = answerOf(await admitStream(h, {}, request('GET', 'channel=ok&channel=a%0Ab'), { headers: { 'X-App': '1' } }));
    expect(a).toEqual({ status: 400, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'ssehub: channel must not contain CR, LF or NUL\n' });
    expect(answerOf(await admitStream(h, {}, request('GET', 'channel='), {})).body).toBe('ssehub: channel must not be empty\n');
  });

  it('admits maxChannels channels and refuses one more with 400 (default 64)', async () => {
    const h = hub();
    const q = (n: number) => Array.from({ length: n }, (_, i) => `channel=c${i}`).join('&');
    expect(streamOf(await admitStream(h, {}, request('GET', q(3)), { maxChannels: 3 })).params.channels!).toHaveProperty('size', 3);
    expect(answerOf(await admitStream(h, {}, request('GET', q(4)), { maxChannels: 3 }))).toMatchObject({
      status: 400,
      body: 'ssehub: too many channels (at most 3)\n',
    });
    // The same channel twice counts once.
    streamOf(await admitStream(h, {}, request('GET', 'channel=a&channel=a&channel=a'), { maxChannels: 1 }));
    streamOf(await admitStream(h, {}, request('GET', q(64)), {}));
    expect(answerOf(await admitStream(h, {}, request('GET', q(65)), {})).body).toBe('ssehub: too many channels (at most 64)\n');
  });

  it('refuses a client id holding maxConnectionsPerClient streams (429, client-limit), and no other id', async () => {
    const h = hub();
    h.connect(new TestSink(), { clientId: 'u1' });
    const options: StreamOptions<unknown> = { maxConnectionsPerClient: 2, retryAfter: 3 };
    streamOf(await admitStream(h, {}, request('GET', 'id=u1'), options));
    h.connect(new TestSink(), { clientId: 'u1' });
    const a = answerOf(await admitStream(h, {}, request('GET', 'id=u1'), options));
    expect(a.status).toBe(429);
    expect(a.headers['Retry-After']).toBe('3');
    expect(a.headers[REFUSAL_HEADER]).toBe('client-limit');
    expect(h.stats().refusals['client-limit']).toBe(1);
    streamOf(await admitStream(h, {}, request('GET', 'id=u2'), options));
    // No client id: no per-client limit.
    streamOf(await admitStream(h, {}, request('GET'), { maxConnectionsPerClient: 1 }));
  });

  it('gzips only with compress on and an Accept-Encoding that takes gzip', async () => {
    const h = hub();
    const gz = async (options: StreamOptions<unknown>, ae?: string) =>
      streamOf(await admitStream(h, {}, request('GET', '', ae === undefined ? {} : { 'accept-encoding': ae }), options)).gzip;
    expect(await gz({ compress: true }, 'gzip, br')).toBe(true);
    expect(await gz({ compress: true }, 'br')).toBe(false);
    expect(await gz({ compress: true })).toBe(false);
    expect(await gz({}, 'gzip')).toBe(false);
    expect(await gz({ compress: false }, 'gzip')).toBe(false);
  });
});

describe('connectParams', () => {
  it('uses the app\'s resolvers when given, the query otherwise', () => {
    const req = { who: 'me', subs: ['x'] };
    expect(
      connectParams(req, request('GET', 'id=q&channel=c'), { clientId: (r) => r.who, channels: (r) => r.subs }),
    ).toEqual({ clientId: 'me', channels: ['x'], lastEventId: undefined });
    expect(connectParams(req, request('GET', ''), {})).toEqual({ clientId: undefined, channels: [], lastEventId: undefined });
  });

  it('takes Last-Event-ID from the header first, then ?lastEventId=, exactly as received', () => {
    expect(connectParams({}, request('GET', 'lastEventId=q', { 'last-event-id': ' h ' }), {}).lastEventId).toBe(' h ');
    expect(connectParams({}, request('GET', 'lastEventId=q'), {}).lastEventId).toBe('q');
    // An empty header is no Last-Event-ID: the query's counts.
    expect(connectParams({}, request('GET', 'lastEventId=q', { 'last-event-id': '' }), {}).lastEventId).toBe('q');
  });
});

describe('checkStreamOptions', () => {
  it('takes the defaults and good values', () => {
    expect(() => checkStreamOptions({})).not.toThrow();
    expect(() => checkStreamOptions({ retryAfter: 0, maxChannels: 1, maxConnectionsPerClient: Infinity, authorize: () => true })).not.toThrow();
    expect(STREAM_DEFAULTS).toEqual({ retryAfter: 5, maxConnectionsPerClient: Infinity, maxChannels: 64, compress: false });
  });

  it('refuses bad values when the handler is made', () => {
    expect(() => checkStreamOptions({ retryAfter: -1 })).toThrow('ssehub: option retryAfter must be an integer >= 0, got -1');
    expect(() => checkStreamOptions({ retryAfter: 1.5 })).toThrow(TypeError);
    expect(() => checkStreamOptions({ maxChannels: 0 })).toThrow(/maxChannels/);
    expect(() => checkStreamOptions({ maxConnectionsPerClient: 0 })).toThrow(/maxConnectionsPerClient/);
    expect(() => checkStreamOptions({ authorize: true as never })).toThrow(new TypeError('ssehub: authorize must be a function'));
    expect(() => checkStreamOptions({ cors: { origins: '*', credentials: true } })).toThrow(TypeError);
  });
});

describe('refusal', () => {
  afterEach(() => jest.restoreAllMocks());

  it('answers other requests with the status, Retry-After, the reason header and a text body', () => {
    expect(refusal('hub-full', { eventStream: false, headers: { 'X-App': '1' } })).toEqual({
      status: 503,
      headers: { 'X-App': '1', 'Retry-After': '5', [REFUSAL_HEADER]: 'hub-full', 'Content-Type': 'text/plain; charset=utf-8' },
      body: 'ssehub: too many connections\n',
      closeConnection: true,
    });
    expect(refusal('client-limit', { eventStream: false, retryAfter: 2 })).toMatchObject({
      status: 429,
      headers: { 'Retry-After': '2' },
      body: 'ssehub: too many connections for this client\n',
    });
    // A hub going away always says 1 second: the next instance is up by then.
    expect(refusal('shutting-down', { eventStream: false, retryAfter: 30 })).toMatchObject({
      status: 503,
      headers: { 'Retry-After': '1' },
      body: 'ssehub: shutting down\n',
    });
  });

  it('answers an EventSource with a 200 stream that sets retry: and says why, no event', () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.25);
    const a = refusal('hub-full', { eventStream: true, retryAfter: 4 });
    expect(a).toEqual({
      status: 200,
      headers: { 'Retry-After': '4', [REFUSAL_HEADER]: 'hub-full', ...SSE_HEADERS },
      body: 'retry: 3000\n: ssehub: too many connections; retry in 3000 ms\n',
      closeConnection: true,
    });
    expect(a.body).not.toContain('\n\n');
  });

  it('spreads retry: between half and one and a half times retryAfter', () => {
    const retryOf = (random: number) => {
      jest.spyOn(Math, 'random').mockReturnValue(random);
      return Number(/^retry: (\d+)\n/.exec(refusal('client-limit', { eventStream: true }).body)![1]);
    };
    expect(retryOf(0)).toBe(2500);
    expect(retryOf(0.999)).toBe(7495);
    jest.spyOn(Math, 'random').mockReturnValue(0);
    expect(refusal('shutting-down', { eventStream: true, retryAfter: 60 }).body).toBe('retry: 500\n: ssehub: shutting down; retry in 500 ms\n');
  });
});

describe('hubRefusal', () => {
  it('is undefined for an open hub with room, hub-full at maxClients, shutting-down once closing', async () => {
    const h = hub({ maxClients: 1 });
    expect(hubRefusal(h)).toBeUndefined();
    h.connect(new TestSink());
    expect(hubRefusal(h)).toBe('hub-full');
    const drained = h.drain({ within: 0, grace: 0 });
    expect(hubRefusal(h)).toBe('shutting-down');
    await drained;
    expect(hubRefusal(h)).toBe('shutting-down');
  });
});

describe('wantsEventStream', () => {
  it.each([
    ['text/event-stream', true],
    ['TEXT/Event-Stream', true],
    ['text/event-stream;q=1', true],
    ['text/html, text/event-stream', true],
    ['text/html,text/event-stream ; q=0.5', true],
    ['text/event-stream, */*', true],
    [undefined, false],
    ['', false],
    ['*/*', false],
    ['text/event-streamx', false],
    ['xtext/event-stream', false],
    ['application/json', false],
  ])('%j: %s', (accept, expected) => {
    expect(wantsEventStream(accept)).toBe(expected);
  });
});

describe('http answers', () => {
  it('textAnswer: plain text, headers added after the content type', () => {
    expect(textAnswer(404, 'no\n')).toEqual({ status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'no\n' });
    expect(textAnswer(400, 'x', { 'Content-Type': 'text/x', A: 'b' }).headers).toEqual({ 'Content-Type': 'text/x', A: 'b' });
  });

  it('jsonAnswer: JSON no cache keeps, and no body for HEAD', () => {
    expect(jsonAnswer(200, { a: 1 })).toEqual({
      status: 200,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' },
      body: '{"a":1}',
    });
    expect(jsonAnswer(200, { a: 1 }, { X: 'y' }, true)).toEqual({
      status: 200,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', X: 'y' },
      body: '',
    });
  });

  it('bodiless: HEAD, 204 and 304 only', () => {
    const a = (status: number) => textAnswer(status, 'x');
    expect(bodiless(a(200), true)).toBe(true);
    expect(bodiless(a(204), false)).toBe(true);
    expect(bodiless(a(304), false)).toBe(true);
    expect(bodiless(a(200), false)).toBe(false);
    expect(bodiless(a(205), false)).toBe(false);
  });
});
