/** The framework-agnostic access helpers: token comparison, CORS decisions, Accept-Encoding parsing. */
import fc from 'fast-check';
import { acceptsGzip, bearerToken, checkCors, checkToken, corsHeaders, preflight, safeEqual } from '@ssehub/core/adapter';

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
