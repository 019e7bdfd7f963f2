import {
  channelProblem,
  DEFAULT_MAX_ID_LENGTH,
  idProblem,
  isWellFormed,
  messageProblem,
  validateChannel,
  validateMessage,
} from '../src/wire/validate';

// The rules every entry point shares (broadcast, the publish API, stream admission): these tests read
// the exact problem each one reports, since the publish API hands it to the caller as the 400's reason.

const LONE_HIGH = '\uD800';
const LONE_LOW = '\uDC00';
const PAIR = '\uD83D\uDE00'; // 😀

describe('idProblem', () => {
  it('accepts visible ASCII of 1 to maxLength characters, spaces inside', () => {
    for (const id of ['1', 'a b', '!~', 'x'.repeat(DEFAULT_MAX_ID_LENGTH), '0-1 2']) expect(idProblem(id)).toBeUndefined();
  });

  it('says what is wrong with each kind of bad id', () => {
    expect(idProblem(7)).toBe('must be a string');
    expect(idProblem(undefined)).toBe('must be a string');
    expect(idProblem('')).toBe('must not be empty (an empty id resets the client)');
    expect(idProblem('x'.repeat(DEFAULT_MAX_ID_LENGTH + 1))).toBe(
      `must be at most ${DEFAULT_MAX_ID_LENGTH} characters (a longer Last-Event-ID is not looked up)`,
    );
    const ascii = 'must be visible ASCII (0x21-0x7E, spaces only inside): other characters do not come back unchanged in Last-Event-ID';
    for (const id of [' a', 'a ', ' ', 'a\tb', 'é', 'a\nb', '\x7f']) expect(idProblem(id)).toBe(ascii);
  });

  it('takes the length bound it is given, inclusive', () => {
    expect(idProblem('abcd', 4)).toBeUndefined();
    expect(idProblem('abcde', 4)).toBe('must be at most 4 characters (a longer Last-Event-ID is not looked up)');
  });
});

describe('channelProblem', () => {
  it('accepts any non-empty name without CR, LF, NUL or a lone surrogate', () => {
    for (const name of ['a', 'news/sport', ' spaced ', 'é', PAIR]) expect(channelProblem(name)).toBeUndefined();
  });

  it('says what is wrong with each kind of bad name', () => {
    expect(channelProblem(1)).toBe('must be a string');
    expect(channelProblem(null)).toBe('must be a string');
    expect(channelProblem('')).toBe('must not be empty');
    for (const name of ['a\rb', 'a\nb', 'a\0b']) expect(channelProblem(name)).toBe('must not contain CR, LF or NUL');
    for (const name of [LONE_HIGH, `a${LONE_LOW}`]) expect(channelProblem(name)).toBe('must not contain a lone surrogate');
  });
});

describe('messageProblem', () => {
  it('accepts a message that can be sent as given', () => {
    expect(messageProblem({ data: 'x' })).toBeUndefined();
    expect(messageProblem({ data: { a: 1 }, event: 'e', id: 'i', retry: 0, channel: ['a', 'b'] })).toBeUndefined();
    expect(messageProblem({ data: 0, channel: 'a' })).toBeUndefined();
    expect(messageProblem({ data: null })).toBeUndefined();
    // Arrays are objects: one whose data is given passes (the encoder sends what it holds).
    expect(messageProblem(Object.assign([], { data: 'x' }))).toBeUndefined();
  });

  it('refuses what is not an object', () => {
    const problem = { field: 'message', problem: 'must be an object like { data }' };
    for (const msg of [null, undefined, 'data', 3, true]) expect(messageProblem(msg)).toEqual(problem);
  });

  it('names the field at fault and the problem', () => {
    expect(messageProblem({})).toEqual({ field: 'data', problem: 'is required' });
    expect(messageProblem({ data: `a${LONE_HIGH}` })).toEqual({
      field: 'data',
      problem: 'must not contain a lone surrogate (it has no UTF-8 form)',
    });
    expect(messageProblem({ data: 'x', event: 1 })).toEqual({ field: 'event', problem: 'must be a string' });
    expect(messageProblem({ data: 'x', event: '' })).toEqual({ field: 'event', problem: 'must not be empty' });
    expect(messageProblem({ data: 'x', event: 'a\nb' })).toEqual({ field: 'event', problem: 'must not contain CR, LF or NUL' });
    expect(messageProblem({ data: 'x', event: LONE_LOW })).toEqual({ field: 'event', problem: 'must not contain a lone surrogate' });
    expect(messageProblem({ data: 'x', id: '' })).toEqual({ field: 'id', problem: 'must not be empty (an empty id resets the client)' });
    expect(messageProblem({ data: 'x', retry: -1 })).toEqual({ field: 'retry', problem: 'must be a non-negative integer, got -1' });
    expect(messageProblem({ data: 'x', retry: 1.5 })).toEqual({ field: 'retry', problem: 'must be a non-negative integer, got 1.5' });
    expect(messageProblem({ data: 'x', retry: '5' })).toEqual({ field: 'retry', problem: 'must be a non-negative integer, got 5' });
    expect(messageProblem({ data: 'x', channel: [] })).toEqual({ field: 'channel', problem: 'must not be an empty list' });
    expect(messageProblem({ data: 'x', channel: '' })).toEqual({ field: 'channel', problem: 'must not be empty' });
    expect(messageProblem({ data: 'x', channel: ['ok', 'a\0b'] })).toEqual({ field: 'channel', problem: 'must not contain CR, LF or NUL' });
  });

  it('applies the id length limit it is given', () => {
    expect(messageProblem({ data: 'x', id: 'abc' }, { maxIdLength: 3 })).toBeUndefined();
    expect(messageProblem({ data: 'x', id: 'abcd' }, { maxIdLength: 3 })).toEqual({
      field: 'id',
      problem: 'must be at most 3 characters (a longer Last-Event-ID is not looked up)',
    });
  });

  it('reports the first problem in the order data, event, id, retry, channel', () => {
    const bad = { data: undefined, event: '', id: '', retry: -1, channel: [] };
    const order: string[] = [];
    let msg: Record<string, unknown> = { ...bad };
    for (const field of ['data', 'event', 'id', 'retry', 'channel']) {
      order.push(messageProblem(msg)!.field);
      msg = { ...msg, [field]: field === 'data' ? 'x' : undefined };
    }
    expect(order).toEqual(['data', 'event', 'id', 'retry', 'channel']);
  });
});

describe('validateMessage and validateChannel', () => {
  it('throw a TypeError that names the field', () => {
    expect(() => validateMessage(null)).toThrow(new TypeError('ssehub: a message must be an object like { data }'));
    expect(() => validateMessage({})).toThrow(new TypeError('ssehub: message.data is required'));
    expect(() => validateMessage({ data: 'x', id: 'a\nb' })).toThrow(TypeError);
    expect(() => validateMessage({ data: 'x', event: 'a\nb' })).toThrow(
      new TypeError('ssehub: message.event must not contain CR, LF or NUL'),
    );
    expect(() => validateMessage({ data: 'x', id: 'abcd' }, { maxIdLength: 3 })).toThrow(
      new TypeError('ssehub: message.id must be at most 3 characters (a longer Last-Event-ID is not looked up)'),
    );
    expect(() => validateChannel('a\nb')).toThrow(new TypeError('ssehub: channel must not contain CR, LF or NUL'));
    expect(() => validateChannel(5)).toThrow(new TypeError('ssehub: channel must be a string'));
  });

  it('return quietly for what is fine', () => {
    expect(() => validateMessage({ data: 'x', id: '1', channel: 'a' })).not.toThrow();
    expect(() => validateChannel('a')).not.toThrow();
  });
});

describe('isWellFormed', () => {
  const cases: [string, boolean][] = [
    ['', true],
    ['plain', true],
    [PAIR, true],
    [`a${PAIR}b${PAIR}`, true],
    [LONE_HIGH, false],
    [LONE_LOW, false],
    [`a${LONE_HIGH}`, false],
    [`${LONE_HIGH}a`, false],
    [`${LONE_LOW}${LONE_HIGH}`, false], // both halves, in the wrong order
    [`${PAIR}${LONE_LOW}`, false],
    [`${LONE_HIGH}${PAIR}`, false],
    [`x${LONE_LOW}y`, false],
  ];

  it.each(cases)('%j: %s (native)', (s, expected) => {
    expect(isWellFormed(s)).toBe(expected);
  });

  // Runtimes before String.prototype.isWellFormed (Node 18, older Bun) take the regular expression.
  describe('without String.prototype.isWellFormed', () => {
    const proto = String.prototype as { isWellFormed?: () => boolean };
    const native = proto.isWellFormed;
    beforeAll(() => {
      delete proto.isWellFormed;
    });
    afterAll(() => {
      proto.isWellFormed = native;
    });

    it.each(cases)('%j: %s (regular expression)', (s, expected) => {
      expect(typeof proto.isWellFormed).toBe('undefined');
      expect(isWellFormed(s)).toBe(expected);
    });
  });
});
