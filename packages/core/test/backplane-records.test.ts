/** The records a hub shares through a backplane, what it makes of them on the way back, and the error class it reports trouble with. */
import { sharedChannels, toDelivered, toRecord, type BackplaneEntry } from '../src/backplane';
import { SseHubError } from '../src/errors';
import { checkCount } from '../src/options';
import { createGzip, Z_SYNC_FLUSH } from '../src/zlib';
import { gunzipSync } from 'node:zlib';

describe('toRecord', () => {
  it('keeps the wire fields a message has, and no others', () => {
    expect(toRecord({ data: 'hi' }, undefined, 'u1', 'hi')).toEqual({ uid: 'u1', id: 'u1', data: 'hi', json: false });
    expect(toRecord({ data: { a: 1 }, event: 'e', id: 'mine', retry: 0, channel: 'c' }, undefined, 'u2', '{"a":1}')).toEqual({
      uid: 'u2',
      id: 'mine',
      data: '{"a":1}',
      json: true,
      event: 'e',
      retry: 0,
      channel: 'c',
    });
    const bare = toRecord({ data: 1 }, undefined, 'u3', '1');
    expect(Object.keys(bare)).toEqual(['uid', 'id', 'data', 'json']);
  });

  it('joins several channels with LF, and addresses a client instead of channels with to', () => {
    expect(toRecord({ data: 'x', channel: ['a', 'b'] }, undefined, 'u', 'x').channel).toBe('a\nb');
    const to = toRecord({ data: 'x', channel: 'a' }, 'client-7', 'u', 'x');
    expect(to.to).toBe('client-7');
    expect('channel' in to).toBe(false);
  });
});

describe('toDelivered', () => {
  const entry = (e: Partial<BackplaneEntry>): BackplaneEntry => ({ uid: 'u', id: 'i', data: 'd', json: false, ...e });

  it('gives a string back as it is, JSON parsed once', () => {
    expect(toDelivered(entry({ data: '{"a":1}' })).data).toBe('{"a":1}');
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const m = toDelivered(entry({ data: '{"a":1}', json: true }));
      expect(parse).not.toHaveBeenCalled(); // nobody read it yet
      expect(m.data).toEqual({ a: 1 });
      expect(m.data).toBe(m.data);
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
    }
  });

  it('keeps the fields an entry has, and no others', () => {
    const bare = toDelivered(entry({}));
    expect(Object.keys(bare).sort()).toEqual(['data', 'id']);
    expect(bare.id).toBe('i');
    const m = toDelivered(entry({ event: 'e', retry: 0, channel: 'a' }));
    expect({ event: m.event, retry: m.retry, channel: m.channel, clientId: m.clientId }).toEqual({ event: 'e', retry: 0, channel: 'a', clientId: undefined });
  });

  it('gives one channel as a string, several as a list without repeats, and a client id for to', () => {
    expect(toDelivered(entry({ channel: 'a\nb\na' })).channel).toEqual(['a', 'b']);
    const to = toDelivered(entry({ to: 'c1', channel: 'a' }));
    expect(to.clientId).toBe('c1');
    expect(to.channel).toBeUndefined();
  });
});

describe('sharedChannels', () => {
  it('splits an LF-joined field, without repeats', () => {
    expect(sharedChannels(undefined)).toBeUndefined();
    expect(sharedChannels('a')).toEqual(['a']);
    expect(sharedChannels('a\nb\na')).toEqual(['a', 'b']);
  });
});

describe('checkCount', () => {
  it('takes safe integers from min, and Infinity only where it means no limit', () => {
    expect(() => checkCount('n', 0)).not.toThrow();
    expect(() => checkCount('n', 1, 1)).not.toThrow();
    expect(() => checkCount('n', Infinity, 1, true)).not.toThrow();
    expect(() => checkCount('n', 0, 1)).toThrow(new TypeError('ssehub: option n must be an integer >= 1, got 0'));
    expect(() => checkCount('n', -1)).toThrow(new TypeError('ssehub: option n must be an integer >= 0, got -1'));
    expect(() => checkCount('n', Infinity)).toThrow(new TypeError('ssehub: option n must be an integer >= 0, got Infinity'));
    expect(() => checkCount('n', 0.5, 0, true)).toThrow(new TypeError('ssehub: option n must be an integer >= 0 or Infinity, got 0.5'));
    expect(() => checkCount('n', '3')).toThrow(TypeError);
    expect(() => checkCount('n', 2 ** 53)).toThrow(TypeError);
  });
});

describe('createGzip', () => {
  it('makes a new working compressor from node:zlib each time', async () => {
    const a = await createGzip();
    const b = await createGzip();
    expect(a).toBeDefined();
    expect(a).not.toBe(b);
    const out: Uint8Array[] = [];
    a!.on('data', (c) => out.push(c));
    a!.write(new TextEncoder().encode('data: hi\n\n'));
    await new Promise<void>((r) => a!.flush(Z_SYNC_FLUSH, r));
    expect(Z_SYNC_FLUSH).toBe(2);
    a!.end();
    await new Promise((r) => a!.on('end', r));
    expect(gunzipSync(Buffer.concat(out)).toString()).toBe('data: hi\n\n');
    b!.destroy();
  });
});

describe('SseHubError', () => {
  it('is an Error named SseHubError with its code, message and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const e = new SseHubError('ssehub: backplane unreachable', 'BACKPLANE_UNAVAILABLE', { cause });
    expect(e).toBeInstanceOf(Error);
    expect([e.name, e.code, e.message, e.cause]).toEqual(['SseHubError', 'BACKPLANE_UNAVAILABLE', 'ssehub: backplane unreachable', cause]);
    expect(String(e)).toBe('SseHubError: ssehub: backplane unreachable');
  });
});
