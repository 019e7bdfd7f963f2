/**
 * The hub's public surface around delivery (hub/hub.ts): send()'s checks and counts, connect()'s
 * refusals and parameters, how a stream is let go (ended, destroyed or left alone), latency events,
 * and drain() on a hub already closed. Delivery itself is in delivery.test.ts, replay in replay.test.ts.
 */
import { SseHubError } from '@ssehub/core';
import { hubFactory, TestSink } from './test-sink';

const { hub, closeHubs } = hubFactory();
afterEach(closeHubs);

describe('send()', () => {
  it('refuses an empty or non-string to, sending nothing', () => {
    const h = hub();
    const sink = new TestSink();
    h.connect(sink, { clientId: 'u' });
    expect(() => h.send({ data: 1 }, { to: '' })).toThrow(new TypeError('ssehub: clientId must be a non-empty string'));
    expect(() => h.send({ data: 1 }, { to: 5 as never })).toThrow(new TypeError('ssehub: clientId must be a non-empty string'));
    expect(h.stats().eventsPublished).toBe(0);
    expect(h.lastEventId).toBeUndefined();
  });

  it('counts the streams reached: all, a channel\'s, or one client id\'s (whose channels do not matter)', () => {
    const h = hub();
    h.connect(new TestSink(), { channels: ['a'], clientId: 'u' });
    h.connect(new TestSink(), { channels: ['b'], clientId: 'u' });
    h.connect(new TestSink());
    expect(h.send({ data: 1 }).consumers).toBe(3);
    expect(h.send({ data: 1, channel: 'a' }).consumers).toBe(1);
    expect(h.send({ data: 1, channel: ['a', 'b', 'a'] }).consumers).toBe(2);
    // A message to a client id reaches all its streams, whatever channel the message names.
    expect(h.send({ data: 1, channel: 'zz' }, { to: 'u' }).consumers).toBe(2);
    expect(h.send({ data: 1 }, { to: 'nobody' }).consumers).toBe(0);
  });

  it('sends a message to a client id without its channel, and listen() sees whom it was for', async () => {
    const h = hub();
    const u = new TestSink();
    h.connect(u, { clientId: 'u' });
    const seen = h.listen();
    const { id } = h.send({ data: 'p', channel: 'zz' }, { to: 'u' });
    const first = await seen.next();
    expect(first.value).toEqual({ data: 'p', id, clientId: 'u' });
    await new Promise((r) => setImmediate(r));
    expect(u.text).toContain(`id: ${id}\ndata: p\n\n`);
  });
});

describe('connect()', () => {
  it('refuses while draining (HUB_DRAINING), when full (HUB_FULL, naming the limit) and once closed', async () => {
    const full = hub({ maxClients: 1 });
    full.connect(new TestSink());
    expect(() => full.connect(new TestSink())).toThrow(new SseHubError('ssehub: maxClients (1) reached', 'HUB_FULL'));
    const err = (() => {
      try {
        full.connect(new TestSink());
      } catch (e) {
        return e as SseHubError;
      }
    })();
    expect(err?.code).toBe('HUB_FULL');

    const draining = hub();
    // Two streams over 10 s: the second is ended only later, so the hub stays draining meanwhile.
    draining.connect(new TestSink());
    draining.connect(new TestSink());
    const done = draining.drain({ within: 10_000, grace: 0 });
    let code: string | undefined;
    try {
      draining.connect(new TestSink());
    } catch (e) {
      code = (e as SseHubError).code;
      expect((e as Error).message).toBe('ssehub: the hub is draining');
    }
    expect(code).toBe('HUB_DRAINING');
    await draining.close();
    await done;
    expect(() => draining.connect(new TestSink())).toThrow(new SseHubError('ssehub: the hub is closed', 'HUB_CLOSED'));
  });

  it('takes an empty Last-Event-ID as none: with replayAll the whole history, without it live only', async () => {
    const all = hub({ replayAll: true });
    all.broadcast({ data: 'a', id: 'a' });
    all.broadcast({ data: 'b', id: 'b' });
    const s = new TestSink();
    all.connect(s, { lastEventId: '' });
    await new Promise((r) => setImmediate(r));
    expect(s.text).toBe('id: a\ndata: a\n\nid: b\ndata: b\n\n');
    expect(all.clients()[0]!.lastEventId).toBeUndefined();

    const live = hub();
    live.broadcast({ data: 'a', id: 'a' });
    const l = new TestSink();
    live.connect(l, { lastEventId: '' });
    await new Promise((r) => setImmediate(r));
    expect(l.text).toBe('');
    expect(live.stats().gaps).toMatchObject({ 'unknown-id': 0 });
  });

  it('takes an empty client id as none', () => {
    const h = hub();
    const c = h.connect(new TestSink(), { clientId: '' });
    expect(c.clientId).toBeUndefined();
    expect(h.clientSize('')).toBe(0);
  });
});

describe('letting a stream go', () => {
  it('leaves a sink alone when its peer left (no end, no destroy), and counts the close once', () => {
    const h = hub();
    const sink = new TestSink();
    const disconnects: string[] = [];
    h.on('disconnect', (c) => disconnects.push(c.id));
    h.connect(sink);
    sink.close();
    sink.close();
    expect(sink.ended).toBe(false);
    expect(sink.destroyed).toBe(false);
    expect(h.size).toBe(0);
    expect(disconnects).toHaveLength(1);
    expect(h.stats().connectionsClosed).toBe(1);
  });

  it('ends a stream the app ends, and destroys it instead when it is congested (it would never finish ending)', async () => {
    const h = hub();
    const calm = new TestSink();
    const stuck = new TestSink();
    h.connect(calm, { clientId: 'calm' });
    h.connect(stuck, { clientId: 'stuck' });
    stuck.accept = false;
    h.broadcast({ data: 'x'.repeat(100) }); // stuck asks to wait: congested
    await new Promise((r) => setImmediate(r));
    expect(h.stats().congested).toBe(1);
    expect(h.disconnect('calm')).toBe(1);
    expect(calm.ended).toBe(true);
    expect(calm.destroyed).toBe(false);
    expect(h.disconnect('stuck')).toBe(1);
    expect(stuck.destroyed).toBe(true);
    expect(stuck.ended).toBe(false);
  });

  it('evicts once: a second reason for an evicted client counts nothing', async () => {
    const h = hub({ maxBufferedBytes: 10 });
    const sink = new TestSink();
    const evicted: string[] = [];
    const disconnects: string[] = [];
    h.on('evict', (_c, reason) => evicted.push(reason));
    h.on('disconnect', (c) => disconnects.push(c.id));
    h.connect(sink);
    sink.accept = false;
    h.broadcast({ data: 'x'.repeat(50) });
    h.broadcast({ data: 'y'.repeat(50) });
    await new Promise((r) => setImmediate(r));
    expect(evicted).toEqual(['buffer']);
    expect(disconnects).toHaveLength(1);
    expect(sink.destroyed).toBe(true);
    expect(h.stats().evictions).toEqual({ timeout: 0, buffer: 1 });
    expect(h.stats().connectionsClosed).toBe(1);
  });
});

describe('a transport that throws or closes late', () => {
  /** A sink whose destroy() is only a request: its close comes later, as a real socket's does. */
  class LateCloseSink extends TestSink {
    destroys = 0;
    ends = 0;
    override destroy(): void {
      this.destroys++;
      this.destroyed = true;
    }
    override end(): void {
      this.ends++;
      this.ended = true;
    }
  }

  it('drops a stream whose write throws: the error to onError, the sink destroyed, never ended', async () => {
    const errors: unknown[] = [];
    const h = hub({ onError: (e) => errors.push(e) });
    const sink = new LateCloseSink();
    const boom = new Error('socket gone');
    sink.write = () => {
      throw boom;
    };
    const disconnects: string[] = [];
    h.on('disconnect', (c) => disconnects.push(c.id));
    h.connect(sink);
    h.broadcast({ data: 'x' });
    await new Promise((r) => setImmediate(r));
    expect(errors).toEqual([boom]);
    expect([sink.destroys, sink.ends]).toEqual([1, 0]);
    expect(h.size).toBe(0);
    expect(disconnects).toHaveLength(1);
    expect(h.stats().connectionsClosed).toBe(1);
  });

  it('destroys an evicted stream once and never ends it, whether it was congested or still preparing', async () => {
    const h = hub({ maxBufferedBytes: 100, initMessages: () => new Promise<never>(() => undefined) });
    const congested = new LateCloseSink();
    h.connect(congested);
    congested.accept = false;
    h.broadcast({ data: 'first' }); // refused, and held by the transport: congested
    await new Promise((r) => setImmediate(r));
    expect([h.size, h.stats().congested]).toEqual([1, 1]);
    // A client whose initMessages never answer stays preparing, its live events queued.
    const preparing = new LateCloseSink();
    h.connect(preparing, { lastEventId: 'unknown' });
    h.broadcast({ data: 'x'.repeat(100) }); // past maxBufferedBytes for both
    for (const s of [congested, preparing]) expect([s.destroys, s.ends]).toEqual([1, 0]);
    expect(h.size).toBe(0);
    expect(h.stats().evictions.buffer).toBe(2);
  });
});

describe('stats() counts', () => {
  it('deliveries per recipient, the bytes written, and the bytes queued for congested streams', async () => {
    const h = hub();
    const a = new TestSink();
    const b = new TestSink();
    h.connect(a, { channels: ['x'] });
    h.connect(b);
    h.broadcast({ data: 'all', id: '1' }); // 2 recipients
    h.broadcast({ data: 'x only', id: '2', channel: 'x' }); // 1
    await new Promise((r) => setImmediate(r));
    expect(h.stats().deliveries).toBe(3);
    const written = [...a.chunks, ...b.chunks].reduce((n, c) => n + c.byteLength, 0);
    expect(written).toBeGreaterThan(0);
    expect(h.stats().bytesWritten).toBe(written);
    expect(h.stats().queuedBytes).toBe(0);
    a.accept = false;
    b.accept = false;
    h.broadcast({ data: 'held', id: '3' }); // both refuse it: each transport holds its bytes
    await new Promise((r) => setImmediate(r));
    const frame = 'id: 3\ndata: held\n\n'.length;
    expect(h.stats().queuedBytes).toBe(2 * frame);
    h.broadcast({ data: 'more', id: '4' }); // queued in the hub behind the congestion
    expect(h.stats().queuedBytes).toBe(2 * frame + 2 * 'id: 4\ndata: more\n\n'.length);
  });
});

describe('drain()', () => {
  it('ends every stream (not destroyed: each finishes writing), then closes the hub', async () => {
    const h = hub();
    const sinks = [new TestSink(), new TestSink()];
    for (const s of sinks) h.connect(s);
    const disconnects: string[] = [];
    h.on('disconnect', (c) => disconnects.push(c.id));
    await h.drain({ within: 0, grace: 0 });
    expect(sinks.map((s) => [s.ended, s.destroyed])).toEqual([
      [true, false],
      [true, false],
    ]);
    expect(disconnects).toHaveLength(2);
    expect(h.state).toBe('closed');
  });

  it('ends the streams one by one over `within` while the hub drains, not all at the close', async () => {
    jest.useFakeTimers();
    try {
      const h = hub();
      const sinks = [new TestSink(), new TestSink(), new TestSink(), new TestSink()];
      for (const s of sinks) h.connect(s);
      const done = h.drain({ within: 1000, grace: 0 });
      // Four streams over 1000 ms: one every 250 ms, the first at once.
      await jest.advanceTimersByTimeAsync(600);
      expect(h.state).toBe('draining');
      const ended = sinks.filter((s) => s.ended).length;
      expect(ended).toBeGreaterThanOrEqual(2);
      expect(ended).toBeLessThan(4);
      expect(h.size).toBe(4 - ended);
      await jest.advanceTimersByTimeAsync(1000);
      await done;
      expect(sinks.every((s) => s.ended && !s.destroyed)).toBe(true);
      expect(h.state).toBe('closed');
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('latency events', () => {
  /** How often `performance.now()` is read while `fn` runs and the turn after it (the latency timing). */
  async function clockReadsDuring(fn: () => void): Promise<number> {
    const times = jest.spyOn(performance, 'now');
    try {
      fn();
      await new Promise((r) => setImmediate(r));
      return times.mock.calls.length;
    } finally {
      times.mockRestore();
    }
  }

  it('reports one latency per broadcast after the turn, only while someone listens', async () => {
    const h = hub();
    h.connect(new TestSink());
    const got: number[] = [];
    const off = h.on('latency', (ms) => got.push(ms));
    h.broadcast({ data: 1 });
    h.broadcast({ data: 2 });
    h.broadcast({ data: 3 });
    expect(got).toEqual([]); // reported after the turn's writes
    await Promise.resolve();
    await Promise.resolve();
    expect(got).toHaveLength(3);
    for (const ms of got) {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(1000);
    }
    h.broadcast({ data: 4 });
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(4);
    off();
    h.broadcast({ data: 5 });
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(4);
  });

  it('keeps measuring while another latency handler is left, and stops with the last', async () => {
    const h = hub();
    const a: number[] = [];
    const b: number[] = [];
    const ha = (ms: number) => a.push(ms);
    const hb = (ms: number) => b.push(ms);
    h.on('latency', ha);
    h.on('latency', hb);
    h.off('latency', ha);
    h.broadcast({ data: 1 });
    await new Promise((r) => setImmediate(r));
    expect(a).toEqual([]);
    expect(b).toHaveLength(1);
    h.off('latency', hb);
    h.broadcast({ data: 2 });
    await new Promise((r) => setImmediate(r));
    expect(b).toHaveLength(1);
  });

  it('keeps measuring when a handler of another event is removed', async () => {
    const h = hub();
    const got: number[] = [];
    h.on('latency', (ms) => got.push(ms));
    const other = () => undefined;
    h.on('connect', other);
    h.off('connect', other);
    h.broadcast({ data: 1 });
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(1);
  });

  it('stops timing once the last latency handler is removed', async () => {
    const h = hub();
    const handler = () => undefined;
    h.on('latency', handler);
    h.off('latency', handler);
    expect(await clockReadsDuring(() => h.broadcast({ data: 1 }))).toBe(0);
  });

  it('stops timing once the last latency handler leaves through the function on() returned', async () => {
    const h = hub();
    const off = h.on('latency', () => undefined);
    off();
    expect(await clockReadsDuring(() => h.broadcast({ data: 1 }))).toBe(0);
  });

  it('does not measure for handlers of other events', async () => {
    const h = hub();
    const reads = await clockReadsDuring(() => {
      h.on('connect', () => undefined);
      h.off('connect', () => undefined);
      h.broadcast({ data: 1 });
    });
    expect(reads).toBe(0);
  });
});

describe('drain() after close()', () => {
  it('leaves a closed hub closed', async () => {
    const h = hub();
    await h.close();
    await h.drain({ within: 0, grace: 0 });
    expect(h.state).toBe('closed');
  });

  it('is idempotent: a second call returns the same drain', async () => {
    const h = hub();
    h.connect(new TestSink());
    const a = h.drain({ within: 0, grace: 0 });
    const b = h.drain({ within: 5000 });
    expect(b).toBe(a);
    await a;
    expect(h.state).toBe('closed');
  });
});
