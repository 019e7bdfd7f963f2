/** The framework-agnostic access helpers: token comparison, CORS decisions, Accept-Encoding parsing. */
import fc from 'fast-check';
import { checkLimit } from '../src/policy/access';
import { acceptsGzip, bearerToken, checkCors, checkToken, corsHeaders, preflight, safeEqual, verdictOf } from '@ssehub/core/adapter';

describe('safeEqual', () => {
  it('agrees with === on any pair of strings', () => {
    const str = fc.string({ unit: 'binary', maxLength: 20 });
    fc.assert(
      fc.property(str, str, (a, b) => {
        expect(safeEqual(a, b)).toBe(a === b);
        expect(safeEqual(a, a)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('tells apart strings that differ only in length or in the last byte', () => {
    expect(safeEqual('token', 'token\0')).toBe(false);
    expect(safeEqual('', 'a')).toBe(false);
    expect(safeEqual('abcdef', 'abcdeg')).toBe(false);
    expect(safeEqual('é', 'e\u0301')).toBe(false);
  });
});

describe('bearer tokens', () => {
  it('reads the token of a Bearer header only', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('answers 401 without a token, 403 with a wrong one, nothing with any accepted one', () => {
    expect(checkToken(['t1', 't2'], undefined)?.status).toBe(401);
    expect(checkToken(['t1', 't2'], 'Bearer t3')?.status).toBe(403);
    expect(checkToken(['t1', 't2'], 'Bearer t1')).toBeUndefined();
    expect(checkToken(['t1', 't2'], 'Bearer t2')).toBeUndefined();
  });
});

describe('CORS', () => {
  const cors = { origins: ['https://a.example'], credentials: true };

  it('echoes an allowed origin with Vary and credentials, refuses others', () => {
    expect(corsHeaders(cors, 'https://a.example')).toEqual({
      'Access-Control-Allow-Origin': 'https://a.example',
      'Access-Control-Allow-Credentials': 'true',
      Vary: 'Origin',
    });
    expect(corsHeaders(cors, 'https://a.example.evil')).toBeUndefined();
    expect(corsHeaders(cors, 'null')).toBeUndefined();
    expect(corsHeaders(cors, undefined)).toEqual({ Vary: 'Origin' });
    expect(corsHeaders({ origins: (o) => o.endsWith('.example') }, 'https://b.example')?.['Access-Control-Allow-Origin']).toBe(
      'https://b.example',
    );
  });

  it('never pairs * with credentials', () => {
    expect(() => checkCors({ origins: '*', credentials: true })).toThrow(TypeError);
    expect(() => checkCors({ origins: '*' })).not.toThrow();
    expect(() => checkCors({ origins: 'https://a.example' as never })).toThrow(TypeError);
    expect(corsHeaders({ origins: '*' }, 'https://x.example')).toEqual({ 'Access-Control-Allow-Origin': '*' });
  });

  it('answers a preflight with the methods and headers, 403 for an unknown or missing origin', () => {
    const header = (h: Record<string, string>) => (name: string) => h[name];
    const ok = preflight({ ...cors, allowHeaders: ['X-Trace'], maxAge: 60 }, header({ origin: 'https://a.example' }), ['GET'], ['Last-Event-ID']);
    expect(ok.status).toBe(204);
    expect(ok.headers['Access-Control-Allow-Headers']).toBe('Last-Event-ID, X-Trace');
    expect(ok.headers['Access-Control-Max-Age']).toBe('60');
    expect(preflight(cors, header({ origin: 'https://b.example' }), ['GET'], []).status).toBe(403);
    expect(preflight(cors, header({}), ['GET'], []).status).toBe(403);
  });
});

describe('acceptsGzip', () => {
  it.each([
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['br;q=1.0, gzip;q=0.8', true],
    ['GZIP', true],
    ['*', true],
    ['x-gzip', true],
    ['gzip;q=0', false],
    ['gzip;q=0.000', false],
    ['*;q=0', false],
    ['*, gzip;q=0', false],
    ['deflate, br', false],
    ['identity', false],
    ['', false],
  ])('%j → %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });
});

describe('CORS headers, present and absent', () => {
  const origin = 'https://a.example';

  it('sends no Access-Control-Allow-Credentials unless credentials is on', () => {
    expect(corsHeaders({ origins: [origin] }, origin)).toEqual({ 'Access-Control-Allow-Origin': origin, Vary: 'Origin' });
    expect(corsHeaders({ origins: [origin], credentials: false }, origin)).toEqual({ 'Access-Control-Allow-Origin': origin, Vary: 'Origin' });
    expect(corsHeaders({ origins: () => true }, origin)).not.toHaveProperty('Access-Control-Allow-Credentials');
  });

  it("answers origins '*' with a bare * to any origin or none: no Vary, no credentials", () => {
    for (const from of ['https://x.example', 'null', undefined]) {
      expect(corsHeaders({ origins: '*' }, from)).toEqual({ 'Access-Control-Allow-Origin': '*' });
    }
  });

  it('answers a preflight with exactly its headers, Max-Age 600 unless maxAge says otherwise', () => {
    const header = (name: string) => (name === 'origin' ? origin : undefined);
    expect(preflight({ origins: [origin] }, header, ['GET', 'POST'], ['Last-Event-ID', 'Authorization'])).toEqual({
      status: 204,
      headers: {
        'Access-Control-Allow-Origin': origin,
        Vary: 'Origin',
        'Access-Control-Allow-Methods': 'GET, POST',
        'Access-Control-Allow-Headers': 'Last-Event-ID, Authorization',
        'Access-Control-Max-Age': '600',
      },
      body: '',
    });
    expect(preflight({ origins: [origin], maxAge: 0 }, header, ['GET'], []).headers['Access-Control-Max-Age']).toBe('0');
    expect(preflight({ origins: '*', maxAge: 5 }, header, ['GET'], []).headers).toEqual({
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'GET',
      'Access-Control-Allow-Headers': '',
      'Access-Control-Max-Age': '5',
    });
  });

  it('refuses a preflight with a plain-text 403', () => {
    const refused = preflight({ origins: [origin] }, () => undefined, ['GET'], []);
    expect(refused.status).toBe(403);
    expect(refused.body).toBe('ssehub: origin not allowed\n');
  });

  it('checks maxAge and origins when the options are given', () => {
    expect(() => checkCors(undefined)).not.toThrow();
    expect(() => checkCors({ origins: [origin], maxAge: 0 })).not.toThrow();
    expect(() => checkCors({ origins: () => false, credentials: true })).not.toThrow();
    expect(() => checkCors({ origins: [origin], maxAge: -1 })).toThrow(/cors\.maxAge/);
    expect(() => checkCors({ origins: [origin], maxAge: 1.5 })).toThrow(TypeError);
    expect(() => checkCors({ origins: '*', credentials: true })).toThrow("ssehub: cors.origins '*' cannot be used with credentials");
    expect(() => checkCors({ origins: 42 as never })).toThrow("ssehub: cors.origins must be an array of origins, a predicate or '*'");
  });
});

describe('bearer tokens, anchored', () => {
  it('reads Bearer only at the start of the header, and only one token up to its end', () => {
    expect(bearerToken('XBearer abc')).toBeUndefined();
    expect(bearerToken(' Bearer abc')).toBeUndefined();
    expect(bearerToken('Bearer abc x')).toBeUndefined();
    expect(bearerToken('Bearer\tabc\t')).toBe('abc');
    expect(bearerToken('Bearerabc')).toBeUndefined();
    expect(bearerToken('')).toBeUndefined();
  });

  it('says why it refuses', () => {
    expect(checkToken(['t'], undefined)).toEqual({ status: 401, message: 'a bearer token is required' });
    expect(checkToken(['t'], 'Bearer u')).toEqual({ status: 403, message: 'the bearer token is not accepted' });
    expect(checkToken([], 'Bearer t')).toEqual({ status: 403, message: 'the bearer token is not accepted' });
    // An accepted token before or after a refused one: every token is compared.
    expect(checkToken(['t', 'u'], 'Bearer t')).toBeUndefined();
    expect(checkToken(['u', 't'], 'Bearer t')).toBeUndefined();
  });
});

describe('acceptsGzip with spaces around parameters', () => {
  it.each([
    ['gzip; q=0', false],
    ['gzip;  q=0.0', false],
    ['gzip; q=0.5', true],
    ['*; q=0', false],
    ['deflate, *; q=0.1', true],
    [' gzip ', true],
    ['identity, x-gzip; q=0', false],
    ['gzip;level=1', true],
    // Whitespace is allowed before the ';' too (RFC 9110's weight = OWS ";" OWS "q=" qvalue).
    ['gzip ;q=1', true],
    ['br, gzip ; q=0', false],
    [undefined, false],
  ])('%j → %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });
});

describe('verdictOf', () => {
  it.each([
    ['true', true, true, 'allow'],
    ['a grant object, for streams', { channels: ['a'] }, true, 'grant'],
    ['a grant object, for the publish API', { channels: ['a'] }, false, { status: 403, message: 'forbidden' }],
    ['false', false, true, { status: 403, message: 'forbidden' }],
    ['undefined', undefined, true, { status: 403, message: 'forbidden' }],
    ['null', null, true, { status: 403, message: 'forbidden' }],
    ['a 401', { status: 401 }, true, { status: 401, message: 'authentication required' }],
    ['a 401 with a message', { status: 401, message: 'log in' }, true, { status: 401, message: 'log in' }],
    ['a 403 with a message', { status: 403, message: 'no' }, false, { status: 403, message: 'no' }],
    ['any other status', { status: 200 }, true, { status: 403, message: 'forbidden' }],
    ['a message that is not a string', { status: 401, message: 7 }, true, { status: 401, message: 'authentication required' }],
  ])('%s', (_, verdict, grants, expected) => {
    expect(verdictOf(verdict, grants)).toEqual(expected);
  });
});

describe('checkLimit', () => {
  it('takes a positive integer or Infinity, and nothing given', () => {
    for (const ok of [undefined, 1, 50, Infinity]) expect(() => checkLimit('maxChannels', ok)).not.toThrow();
    for (const bad of [0, -1, 1.5, NaN]) expect(() => checkLimit('maxChannels', bad)).toThrow(/maxChannels/);
  });
});
