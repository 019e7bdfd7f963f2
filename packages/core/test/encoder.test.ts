import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { validateMessage, type Message } from '@ssehub/core';
import { dataText, encodeComment, encodeEvent, encodeRetry } from '@ssehub/core/adapter';
import { concatBytes } from '../src/wire/encoder';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** What a spec-following client reads back from some bytes. */
function parse(bytes: Uint8Array | Uint8Array[]): { events: EventSourceMessage[]; retries: number[]; comments: string[] } {
  const events: EventSourceMessage[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e), onRetry: (r) => retries.push(r), onComment: (c) => comments.push(c) });
  const decoder = new TextDecoder();
  for (const b of Array.isArray(bytes) ? bytes : [bytes]) parser.feed(decoder.decode(b, { stream: true }));
  return { events, retries, comments };
}

function roundTrip(msg: Message, id = '7'): EventSourceMessage {
  validateMessage(msg);
  const { events } = parse(encodeEvent(msg, id));
  expect(events).toHaveLength(1);
  return events[0]!;
}

describe('encodeEvent', () => {
  it.each([
    ['a plain string', 'hello'],
    ['the empty string', ''],
    ['a leading space', ' leading'],
    ['leading and trailing spaces', '  both  '],
    ['trailing newlines', 'end\n\n'],
    ['a lone newline', '\n'],
    ['a NUL', 'a\0b'],
    ['emoji and other scripts', 'héllo 👋 世界 \u{1F600}'],
    ['a colon at the start', ':not a comment'],
    ['field-like text', 'id: 5\nevent: x\nretry: 1'],
  ])('round-trips %s exactly', (_, data) => {
    expect(roundTrip({ data }).data).toBe(data);
  });

  it('normalises CR and CRLF to LF, as the client would', () => {
    expect(roundTrip({ data: 'a\rb\r\nc\nd' }).data).toBe('a\nb\nc\nd');
  });

  it('never lets a bare CR in data start a field on the client', () => {
    const e = roundTrip({ data: 'x\revent: injected\r\rdata: evil' });
    expect(e.event).toBeUndefined();
    expect(e.data).toBe('x\nevent: injected\n\ndata: evil');
  });

  it('sends non-strings as JSON', () => {
    const data = { n: 1, s: 'line\nbreak', list: [1, 'two', null] };
    expect(JSON.parse(roundTrip({ data }).data)).toEqual(data);
    expect(roundTrip({ data: 42 }).data).toBe('42');
    expect(roundTrip({ data: null }).data).toBe('null');
  });

  it('writes event, id and retry fields the client reads back', () => {
    const bytes = encodeEvent({ data: 'x', event: 'price', retry: 2500 }, 'abc-1');
    const { events, retries } = parse(bytes);
    expect(events).toEqual([{ event: 'price', id: 'abc-1', data: 'x' }]);
    expect(retries).toEqual([2500]);
  });

  it('decodes the same when bytes arrive one at a time (multibyte characters split across reads)', () => {
    const bytes = encodeEvent({ data: '👋 ünïcödé' }, '1');
    const pieces = Array.from(bytes, (b) => Uint8Array.of(b));
    expect(parse(pieces).events[0]!.data).toBe('👋 ünïcödé');
  });

  it('encodes comments and retry blocks that dispatch nothing', () => {
    const { events, comments, retries } = parse([encodeComment(), encodeComment('ping\nx'), encodeRetry(3000)]);
    expect(events).toHaveLength(0);
    expect(comments).toEqual(['', 'ping x']);
    expect(retries).toEqual([3000]);
  });
});

// The parser above drops a line it cannot use (`retry: undefined`, say) without a word, so these
// compare the bytes themselves.
describe('the exact bytes', () => {
  it('writes only the fields a message has, in the order id, event, retry, data', () => {
    expect(text(encodeEvent({ data: 'x' }, undefined))).toBe('data: x\n\n');
    expect(text(encodeEvent({ data: 'x' }, '7'))).toBe('id: 7\ndata: x\n\n');
    expect(text(encodeEvent({ data: 'x', event: 'tick' }, undefined))).toBe('event: tick\ndata: x\n\n');
    expect(text(encodeEvent({ data: 'x', retry: 0 }, undefined))).toBe('retry: 0\ndata: x\n\n');
    expect(text(encodeEvent({ data: 'x', event: 'e', retry: 5 }, '1'))).toBe('id: 1\nevent: e\nretry: 5\ndata: x\n\n');
  });

  it('splits data on every line break into data lines, the empty ones included', () => {
    expect(text(encodeEvent({ data: 'a\r\nb\rc\nd' }, undefined))).toBe('data: a\ndata: b\ndata: c\ndata: d\n\n');
    expect(text(encodeEvent({ data: '\n' }, undefined))).toBe('data: \ndata: \n\n');
    expect(text(encodeEvent({ data: '' }, undefined))).toBe('data: \n\n');
    expect(text(encodeEvent({ data: { a: 1 } }, undefined))).toBe('data: {"a":1}\n\n');
  });

  it('writes a comment as one line, with a space after the colon only when it has text', () => {
    expect(text(encodeComment())).toBe(':\n');
    expect(text(encodeComment(''))).toBe(':\n');
    expect(text(encodeComment('ping'))).toBe(': ping\n');
    expect(text(encodeComment('a\r\nb'))).toBe(': a  b\n');
  });

  it('writes the retry block as one line', () => {
    expect(text(encodeRetry(3000))).toBe('retry: 3000\n');
  });
});

describe('dataText', () => {
  it('passes strings through and sends anything else as JSON', () => {
    expect(dataText('a\nb')).toBe('a\nb');
    expect(dataText({ a: [1, 'x'] })).toBe('{"a":[1,"x"]}');
    expect(dataText(false)).toBe('false');
  });

  it.each([
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
  ])('refuses %s, which JSON.stringify turns into nothing, with a TypeError', (_, data) => {
    expect(() => dataText(data)).toThrow(new TypeError('ssehub: message.data must be a string or JSON-serialisable'));
    expect(() => encodeEvent({ data }, '1')).toThrow(TypeError);
  });

  it('refuses a circular structure and a BigInt with a TypeError that keeps the cause', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const data of [circular, 10n]) {
      let thrown: unknown;
      try {
        dataText(data);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(TypeError);
      expect((thrown as Error).message).toBe('ssehub: message.data must be a string or JSON-serialisable');
      // The cause is JSON.stringify's own error, which says what went wrong.
      expect((thrown as Error).cause).toBeInstanceOf(TypeError);
      expect(((thrown as Error).cause as Error).message).toMatch(/circular|BigInt/i);
    }
  });
});

describe('concatBytes', () => {
  const bytes = (...values: number[]) => Uint8Array.from(values);

  it('joins chunks in order, measuring them when no total is given', () => {
    expect(concatBytes([bytes(1, 2), bytes(), bytes(3), bytes(4, 5, 6)])).toEqual(bytes(1, 2, 3, 4, 5, 6));
    expect(concatBytes([bytes(1, 2), bytes(3)], 3)).toEqual(bytes(1, 2, 3));
  });

  it('returns a lone chunk itself, without copying it', () => {
    const only = bytes(1, 2, 3);
    expect(concatBytes([only])).toBe(only);
  });
});

describe('validateMessage', () => {
  it.each([
    ['event with LF', { data: 'x', event: 'a\nb' }, /event/],
    ['event with CR', { data: 'x', event: 'a\rb' }, /event/],
    ['event with NUL', { data: 'x', event: 'a\0b' }, /event/],
    ['id with LF', { data: 'x', id: '1\n\ndata: evil' }, /id/],
    ['id with CR', { data: 'x', id: '1\r' }, /id/],
    ['id with NUL', { data: 'x', id: '1\0' }, /id/],
    ['empty id', { data: 'x', id: '' }, /id/],
    ['fractional retry', { data: 'x', retry: 1.5 }, /retry/],
    ['negative retry', { data: 'x', retry: -1 }, /retry/],
    ['string retry', { data: 'x', retry: '1000ms' as unknown as number }, /retry/],
    ['missing data', { event: 'x' } as unknown as Message, /data/],
    ['channel with LF', { data: 'x', channel: 'a\nb' }, /channel/],
  ])('rejects %s with a TypeError naming the field', (_, msg, field) => {
    expect(() => validateMessage(msg as Message)).toThrow(TypeError);
    expect(() => validateMessage(msg as Message)).toThrow(field);
  });

  it('accepts ordinary messages', () => {
    expect(() => validateMessage({ data: 'x', event: 'tick', id: '42', retry: 0, channel: 'room' })).not.toThrow();
  });
});
