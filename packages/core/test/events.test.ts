/** The hub's on/off events and its logger (hub/events.ts). */
import { HubEventEmitter } from '../src/hub/events';
import type { Client } from '../src/hub/connection';

const client = (over: Partial<Record<string, unknown>> = {}) =>
  ({ id: 'c1', clientId: 'u1', channels: new Set(['a', 'b']), bufferedBytes: 42, lastEventId: '7', ...over }) as unknown as Client;

describe('HubEventEmitter', () => {
  it('calls every handler of an event with its arguments, and none of the others', () => {
    const e = new HubEventEmitter(undefined, () => {});
    const seen: unknown[] = [];
    e.on('connect', (c) => seen.push(['connect-1', c.id]));
    e.on('connect', (c) => seen.push(['connect-2', c.id]));
    e.on('evict', (c, reason) => seen.push(['evict', c.id, reason]));
    e.emit('connect', client());
    e.emit('evict', client({ id: 'c2' }), 'buffer');
    expect(seen).toEqual([
      ['connect-1', 'c1'],
      ['connect-2', 'c1'],
      ['evict', 'c2', 'buffer'],
    ]);
  });

  it('removes a handler with off or with the function on returned, and says whether any is left', () => {
    const e = new HubEventEmitter(undefined, () => {});
    const seen: number[] = [];
    const h = (ms: number) => seen.push(ms);
    expect(e.has('latency')).toBe(false);
    const remove = e.on('latency', h);
    const other = (ms: number) => seen.push(-ms);
    e.on('latency', other);
    expect(e.has('latency')).toBe(true);
    expect(e.has('connect')).toBe(false);
    e.emit('latency', 1);
    remove();
    e.emit('latency', 2);
    e.off('latency', other);
    e.emit('latency', 3);
    expect(seen).toEqual([1, -1, -2]);
    expect(e.has('latency')).toBe(false);
  });

  it('hands a handler\'s throw to onError and still calls the others', () => {
    const errors: unknown[] = [];
    const e = new HubEventEmitter(undefined, (err) => errors.push(err));
    const boom = new Error('boom');
    const seen: string[] = [];
    e.on('disconnect', () => {
      throw boom;
    });
    e.on('disconnect', (c) => seen.push(c.id));
    e.emit('disconnect', client());
    expect(errors).toEqual([boom]);
    expect(seen).toEqual(['c1']);
  });

  it('logs connect and disconnect at debug, an eviction at warn with why, and no latency', () => {
    const calls: unknown[][] = [];
    const logger = {
      debug: (...a: unknown[]) => calls.push(['debug', ...a]),
      warn: (...a: unknown[]) => calls.push(['warn', ...a]),
    };
    const e = new HubEventEmitter(logger, () => {});
    e.emit('connect', client());
    e.emit('disconnect', client());
    e.emit('evict', client(), 'timeout');
    e.emit('latency', 5);
    expect(calls).toEqual([
      ['debug', 'ssehub: connect', { id: 'c1', clientId: 'u1', channels: ['a', 'b'], lastEventId: '7' }],
      ['debug', 'ssehub: disconnect', { id: 'c1', clientId: 'u1', channels: ['a', 'b'] }],
      ['warn', 'ssehub: evicted a client that fell behind', { id: 'c1', clientId: 'u1', channels: ['a', 'b'], reason: 'timeout', bufferedBytes: 42 }],
    ]);
  });

  it('takes a logger with only some of the methods', () => {
    const warned: unknown[] = [];
    const e = new HubEventEmitter({ warn: (m: string) => warned.push(m) }, () => {});
    expect(() => e.emit('connect', client())).not.toThrow();
    e.emit('evict', client(), 'buffer');
    expect(warned).toEqual(['ssehub: evicted a client that fell behind']);
    expect(() => new HubEventEmitter({}, () => {}).emit('evict', client(), 'buffer')).not.toThrow();
  });
});
