/**
 * `maxLifetime` on a fake clock: each stream ends gracefully between 75% and 100% of it, on one
 * hub-wide timer that runs while streams are open and keeps running for the others when one leaves.
 * Over real servers, with clients that resume: packages/testing/test/lifecycle.test.ts.
 */
import type { Hub } from '@ssehub/core';
import { TestSink, hubFactory } from './test-sink';

const { hub, closeHubs } = hubFactory();
beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick', 'setImmediate'] });
});
afterEach(async () => {
  jest.useRealTimers();
  jest.restoreAllMocks();
  await closeHubs();
});

/** Connects a client whose lifetime draw is `draw` (Math.random's value). */
function connectWith(h: Hub, draw: number, clientId?: string): TestSink {
  const random = jest.spyOn(Math, 'random').mockReturnValue(draw);
  const sink = new TestSink();
  h.connect(sink, { clientId });
  random.mockRestore();
  return sink;
}

describe('maxLifetime', () => {
  it('ends a stream at 75% of it with the lowest draw, gracefully, and says so', () => {
    const h = hub({ maxLifetime: 1000 });
    const gone: (string | undefined)[] = [];
    h.on('disconnect', (c) => gone.push(c.clientId));
    const sink = connectWith(h, 0, 'a');
    // The check runs every maxLifetime / 20 = 50 ms.
    jest.advanceTimersByTime(749);
    expect(sink.ended).toBe(false);
    jest.advanceTimersByTime(1);
    expect(sink.ended).toBe(true);
    expect(sink.destroyed).toBe(false);
    expect(gone).toEqual(['a']);
    expect(h.size).toBe(0);
  });

  it('ends a stream by 100% of it with the highest draw, not before 95%', () => {
    const h = hub({ maxLifetime: 1000 });
    const sink = connectWith(h, 0.9999, 'a');
    jest.advanceTimersByTime(950);
    expect(sink.ended).toBe(false);
    jest.advanceTimersByTime(50);
    expect(sink.ended).toBe(true);
  });

  it('checks at least once a second however long the lifetime', () => {
    const h = hub({ maxLifetime: 60_000 });
    // Ends at about 45.5 s: the check, every min(1 s, 60 s / 20), sees it at 46 s.
    const sink = connectWith(h, 1 / 30);
    jest.advanceTimersByTime(45_000);
    expect(sink.ended).toBe(false);
    jest.advanceTimersByTime(1000);
    expect(sink.ended).toBe(true);
  });

  it('checks no more often than every 10 ms for a short lifetime', () => {
    const h = hub({ maxLifetime: 40 });
    // Ends at 35 ms; 40 / 20 = 2 ms would be the check's period, raised to 10: seen at 40 ms.
    const sink = connectWith(h, 0.5);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(39);
    expect(sink.ended).toBe(false);
    jest.advanceTimersByTime(1);
    expect(sink.ended).toBe(true);
  });

  it('keeps ending the other streams after one leaves, on one timer, and stops it with the last', () => {
    const h = hub({ maxLifetime: 1000 });
    const early = connectWith(h, 0, 'early');
    const late = connectWith(h, 0.9999, 'late');
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(100);
    early.close();
    expect(h.size).toBe(1);
    jest.advanceTimersByTime(900);
    expect(late.ended).toBe(true);
    expect(h.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
    // A new stream starts it again.
    const next = connectWith(h, 0);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(750);
    expect(next.ended).toBe(true);
  });

  it('ends nothing and starts no timer when off (0)', () => {
    const h = hub({ maxLifetime: 0 });
    const sink = connectWith(h, 0);
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(24 * 3600_000);
    expect(sink.ended).toBe(false);
    expect(h.size).toBe(1);
  });
});
