/** The hub's options: their defaults, their checks, and where errors go (hub/options.ts). */
import { hubConfig, HUB_DEFAULTS } from '../src/hub/options';

describe('hubConfig', () => {
  it('applies the documented defaults', () => {
    const c = hubConfig({});
    expect(c).toMatchObject({
      history: 1000,
      heartbeat: 15_000,
      retryLine: undefined,
      timeout: 5000,
      tolerance: 3,
      maxBufferedBytes: 1024 * 1024,
      maxClients: Infinity,
      replayAll: false,
      maxLifetime: 0,
      maxIdLength: 256,
      initMessages: undefined,
      resyncEvent: 'ssehub-resync',
      logger: undefined,
      backplane: undefined,
    });
    expect(HUB_DEFAULTS.maxLastEventIdLength).toBe(256);
    expect(Object.isFrozen(HUB_DEFAULTS)).toBe(true);
  });

  it('keeps what it is given', () => {
    const initMessages = () => [];
    const c = hubConfig({
      history: 0,
      heartbeat: 0,
      retry: 0,
      timeout: 0,
      tolerance: 1,
      maxBufferedBytes: 1,
      maxClients: 1,
      replayAll: true,
      maxLifetime: 10,
      maxLastEventIdLength: 1,
      initMessages,
      resyncEvent: 'resync',
    });
    expect(c).toMatchObject({
      history: 0,
      heartbeat: 0,
      timeout: 0,
      tolerance: 1,
      maxBufferedBytes: 1,
      maxClients: 1,
      replayAll: true,
      maxLifetime: 10,
      maxIdLength: 1,
      initMessages,
      resyncEvent: 'resync',
    });
    expect(new TextDecoder().decode(c.retryLine)).toBe('retry: 0\n');
    expect(new TextDecoder().decode(hubConfig({ retry: 2500 }).retryLine)).toBe('retry: 2500\n');
  });

  it.each([
    ['history', -1, 'an integer >= 0'],
    ['heartbeat', 1.5, 'an integer >= 0'],
    ['timeout', -1, 'an integer >= 0'],
    ['tolerance', 0, 'an integer >= 1'],
    ['maxBufferedBytes', 0, 'an integer >= 1'],
    ['maxLifetime', -5, 'an integer >= 0'],
    ['maxLastEventIdLength', 0, 'an integer >= 1'],
    ['maxClients', 0, 'an integer >= 1 or Infinity'],
    ['retry', -1, 'an integer >= 0'],
  ])('refuses %s: %p', (name, value, allowed) => {
    expect(() => hubConfig({ [name]: value })).toThrow(new TypeError(`ssehub: option ${name} must be ${allowed}, got ${value}`));
  });

  it('takes Infinity only for maxClients', () => {
    expect(hubConfig({ maxClients: Infinity }).maxClients).toBe(Infinity);
    expect(() => hubConfig({ history: Infinity })).toThrow(TypeError);
  });

  it('refuses a resync event name that could not go on the wire', () => {
    expect(() => hubConfig({ resyncEvent: 'a\nb' })).toThrow(new TypeError('ssehub: message.event must not contain CR, LF or NUL'));
    expect(() => hubConfig({ resyncEvent: '' })).toThrow(new TypeError('ssehub: message.event must not be empty'));
  });

  describe('onError', () => {
    afterEach(() => jest.restoreAllMocks());

    it('uses the one given', () => {
      const onError = jest.fn();
      expect(hubConfig({ onError, logger: { error: jest.fn() } }).onError).toBe(onError);
    });

    it("goes to the logger's error with the error when there is one", () => {
      const error = jest.fn();
      const boom = new Error('boom');
      hubConfig({ logger: { error } }).onError(boom);
      expect(error).toHaveBeenCalledWith('ssehub: error', { error: boom });
    });

    it('goes to process.emitWarning otherwise (a logger without error too), an Error made of anything else', () => {
      const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
      const boom = new Error('boom');
      hubConfig({}).onError(boom);
      hubConfig({ logger: { warn: jest.fn() } }).onError('plain text');
      expect(warn).toHaveBeenCalledTimes(2);
      expect(warn.mock.calls[0]![0]).toBe(boom);
      const made = warn.mock.calls[1]![0] as Error;
      expect(made).toBeInstanceOf(Error);
      expect(made.message).toBe('plain text');
    });

    it('says nothing, and does not throw, on a runtime without process', () => {
      const saved = globalThis.process;
      const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
      const onError = hubConfig({}).onError;
      try {
        (globalThis as { process?: unknown }).process = undefined;
        expect(() => onError(new Error('x'))).not.toThrow();
        (globalThis as { process?: unknown }).process = {};
        expect(() => onError(new Error('x'))).not.toThrow();
      } finally {
        globalThis.process = saved;
      }
      expect(warn).not.toHaveBeenCalled();
    });
  });
});
