import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { validateMessage, type Message } from '@ssehub/core';
import { encodeComment, encodeEvent, encodeRetry } from '@ssehub/core/adapter';

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
