/**
 * The stream-entry format of the Redis backplane: the fields a record is stored as (a contract
 * between processes of different versions during a rolling deploy, and with the publish script,
 * which reads `i` and `u` by position) and the entry read back from them.
 */
import { fromFields, posOf, toFields } from '../src/codec';

describe('toFields', () => {
  it('stores id and uid first, then data and json, and nothing for the fields a record lacks', () => {
    expect(toFields({ id: '7', uid: 'u7', data: 'hello', json: false })).toEqual(['i', '7', 'u', 'u7', 'd', 'hello', 'j', '0']);
    expect(toFields({ id: '8', uid: 'u8', data: '{"n":1}', json: true })).toEqual(['i', '8', 'u', 'u8', 'd', '{"n":1}', 'j', '1']);
  });

  it('adds event, retry (0 included), channel and to when present, in that order', () => {
    expect(toFields({ id: '1', uid: 'x', data: '', json: false, event: 'tick', retry: 0, channel: 'a\nb', to: 'alice' })).toEqual([
      'i', '1', 'u', 'x', 'd', '', 'j', '0', 'e', 'tick', 'r', '0', 'c', 'a\nb', 't', 'alice',
    ]);
    expect(toFields({ id: '1', uid: 'x', data: '', json: false, retry: 2500 })).toEqual(['i', '1', 'u', 'x', 'd', '', 'j', '0', 'r', '2500']);
  });
});

describe('fromFields', () => {
  it('reads back every field a record was stored with, at the position given', () => {
    const record = { id: '42', uid: 'u-42', data: '[1,2]', json: true, event: 'e', retry: 3000, channel: 'news', to: 'bob' };
    expect(fromFields(9, toFields(record))).toEqual({ pos: 9, ...record });
    expect(fromFields(3, toFields({ id: '1', uid: 'v', data: 'text', json: false }))).toEqual({ pos: 3, id: '1', uid: 'v', data: 'text', json: false });
  });

  it('gives empty strings and json false for fields the entry lacks, and no optional field', () => {
    expect(fromFields(5, [])).toEqual({ pos: 5, id: '', uid: '', data: '', json: false });
  });

  it('ignores a trailing key without a value, and keys it does not know', () => {
    expect(fromFields(1, ['i', 'a', 'x', 'unknown', 'd'])).toEqual({ pos: 1, id: 'a', uid: '', data: '', json: false });
    expect(fromFields(1, ['u', 'only', 'r'])).toEqual({ pos: 1, id: '', uid: 'only', data: '', json: false });
  });
});

describe('posOf', () => {
  it('reads the position of a stream id', () => {
    expect(posOf('123-0')).toBe(123);
    expect(posOf('0-0')).toBe(0);
  });
});
