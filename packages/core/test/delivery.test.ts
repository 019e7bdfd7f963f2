/**
 * Delivery through a sink the test controls: what is written and when under backpressure, the exact
 * moment a stalled client is evicted (fake clock), `timeout: 0`, heartbeats that outlive a
 * disconnect, and eviction of a client whose prelude is not written yet. The same over real sockets:
 * packages/testing/test/behaviour.test.ts.
 */
import type { Client, Hub, HubOptions } from '@ssehub/core';
import { TestSink, hubFactory } from './test-sink';

const { hub, closeHubs } = hubFactory();
afterEach(async () => {
  jest.useRealTimers();
  await closeHubs();
});

/** Lets queued microtasks (the hub's once-per-turn flush) run. */
const turn = () => new Promise((r) => setImmediate(r));

/** A fake clock for timers and Date.now, with real microtasks and setImmediate for the hub's flush. */
function fakeClock(): void {
  jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick', 'setImmediate'] });
}

function evictions(h: Hub): [string | undefined, string][] {
  const seen: [string | undefined, string][] = [];
  h.on('evict', (c, reason) => seen.push([c.clientId, reason]));
  return seen;
}

describe('backpressure', () => {
  it('writes nothing more into a sink that asked to wait, then everything queued in one write, in order, when it drains', async () => {
    const h = hub({ maxBufferedBytes: 1_000_000 });
    const sink = new TestSink();
    h.connect(sink);
    sink.accept = false;
    h.broadcast({ data: 'a', id: '1' });
    await turn();
    expect(sink.writes).toEqual(['id: 1\ndata: a\n\n']);
    expect(h.stats().congested).toBe(1);

    h.broadcast({ data: 'b', id: '2' });
    h.broadcast({ data: 'c', id: '3' });
    await turn();
    await turn();
    expect(sink.writes).toHaveLength(1);

    sink.drain();
    expect(sink.writes).toEqual(['id: 1\ndata: a\n\n', 'id: 2\ndata: b\n\nid: 3\ndata: c\n\n']);
  });

  it('treats a drained client as live again: the next events are written at once, and it is no longer counted congested', async () => {
    const h = hub({ maxBufferedBytes: 1_000_000 });
    const sink = new TestSink();
    const client = h.connect(sink);
    sink.accept = false;
    h.broadcast({ data: 'a', id: '1' });
    await turn();
    sink.drain();
    expect(h.stats().congested).toBe(0);
    h.broadcast({ data: 'b', id: '2' });
    await turn();
    expect(sink.writes).toEqual(['id: 1\ndata: a\n\n', 'id: 2\ndata: b\n\n']);
    expect(client.bufferedBytes).toBe(0);
    // Stalled again later, it is congested again, and drains again.
    sink.accept = false;
    h.broadcast({ data: 'c', id: '3' });
    await turn();
    h.broadcast({ data: 'd', id: '4' });
    await turn();
    expect(sink.writes).toHaveLength(3);
    expect(h.stats().congested).toBe(1);
    sink.drain();
    expect(sink.writes[3]).toBe('id: 4\ndata: d\n\n');
    expect(h.stats().congested).toBe(0);
  });

  it('evicts a congested client once its queue plus what the transport holds passes maxBufferedBytes, and not before', async () => {
    const h = hub({ maxBufferedBytes: 100 });
    const evicted = evictions(h);
    const sink = new TestSink();
    h.connect(sink, { clientId: 'slow' });
    sink.accept = false;
    h.broadcast({ data: 'x'.repeat(30), id: '1' }); // 45 bytes, now buffered in the transport
    await turn();
    h.broadcast({ data: 'y'.repeat(30), id: '2' }); // 45 queued: 90 in all, at most 100
    await turn();
    expect(evicted).toEqual([]);
    h.broadcast({ data: 'z', id: '3' }); // 15 more: 105
    expect(evicted).toEqual([['slow', 'buffer']]);
    expect(sink.destroyed).toBe(true);
    expect(h.size).toBe(0);
    expect(h.stats().congested).toBe(0);
  });

  it('evicts at once a client whose transport already holds more than maxBufferedBytes when it asks to wait', async () => {
    const h = hub({ maxBufferedBytes: 10 });
    const evicted = evictions(h);
    const sink = new TestSink();
    h.connect(sink, { clientId: 'big' });
    sink.accept = false;
    h.broadcast({ data: 'x'.repeat(20) });
    await turn();
    expect(evicted).toEqual([['big', 'buffer']]);
  });
});

describe('backpressure, at the edges', () => {
  /** The bytes of `id: <id>\ndata: <data>\n\n`. */
  const size = (id: string, data: string) => `id: ${id}\ndata: ${data}\n\n`.length;

  it('keeps writing at once to a sink that accepted the last write', async () => {
    const h = hub();
    const sink = new TestSink();
    h.connect(sink);
    h.broadcast({ data: 'a', id: '1' });
    await turn();
    h.broadcast({ data: 'b', id: '2' });
    await turn();
    expect(sink.writes).toEqual(['id: 1\ndata: a\n\n', 'id: 2\ndata: b\n\n']);
    expect(h.stats().congested).toBe(0);
  });

  it('keeps a congested client whose bytes are exactly maxBufferedBytes, and evicts it one byte later', async () => {
    const max = size('1', 'aaaa') + size('2', 'bbbb');
    const h = hub({ maxBufferedBytes: max });
    const evicted = evictions(h);
    const sink = new TestSink();
    h.connect(sink, { clientId: 'edge' });
    sink.accept = false;
    h.broadcast({ data: 'aaaa', id: '1' }); // in the transport
    await turn();
    h.broadcast({ data: 'bbbb', id: '2' }); // queued: exactly max in all
    expect(evicted).toEqual([]);
    h.broadcast({ data: '', id: '3' });
    expect(evicted).toEqual([['edge', 'buffer']]);
  });

  it('keeps a client whose transport holds exactly maxBufferedBytes when it asks to wait', async () => {
    const h = hub({ maxBufferedBytes: size('1', 'abc') });
    const evicted = evictions(h);
    const sink = new TestSink();
    h.connect(sink);
    sink.accept = false;
    h.broadcast({ data: 'abc', id: '1' });
    await turn();
    expect(evicted).toEqual([]);
    expect(h.stats().congested).toBe(1);
  });

  it('keeps a preparing client whose queue is exactly maxBufferedBytes', async () => {
    let release!: () => void;
    const ready = new Promise<void>((r) => (release = r));
    const h = hub({ maxBufferedBytes: size('1', 'abc'), initMessages: async () => (await ready, []) });
    const evicted = evictions(h);
    const sink = new TestSink();
    h.connect(sink, { lastEventId: 'unknown' });
    h.broadcast({ data: 'abc', id: '1' });
    expect(evicted).toEqual([]);
    release();
    await turn();
    await turn();
    expect(sink.text).toBe('id: 1\ndata: abc\n\n');
  });

  it('writes a turn past 64 KiB at once, and up to 64 KiB at the end of the turn', async () => {
    const h = hub({ maxBufferedBytes: 1_000_000 });
    const sink = new TestSink();
    h.connect(sink);
    const exactly = 'x'.repeat(64 * 1024 - size('1', ''));
    h.broadcast({ data: exactly, id: '1' });
    expect(sink.writes).toHaveLength(0);
    await turn();
    expect(sink.writes).toHaveLength(1);
    h.broadcast({ data: exactly + 'y', id: '2' });
    expect(sink.writes).toHaveLength(2);
    expect(sink.writes[1]).toBe(`id: 2\ndata: ${exactly}y\n\n`);
  });

  it('does not write at the end of the turn to a client that became congested during it', async () => {
    const h = hub({ maxBufferedBytes: 10_000_000 });
    const sink = new TestSink();
    h.connect(sink);
    sink.accept = false;
    h.broadcast({ data: 'small', id: '1' }); // queued for the end of the turn
    h.broadcast({ data: 'x'.repeat(70_000), id: '2' }); // past 64 KiB: written now, and the sink asks to wait
    h.broadcast({ data: 'after', id: '3' });
    expect(sink.writes).toHaveLength(1);
    await turn();
    expect(sink.writes).toHaveLength(1);
    sink.drain();
    expect(sink.writes[1]).toBe('id: 3\ndata: after\n\n');
  });

  it('writes nothing at the end of the turn to a client that left during it', async () => {
    const h = hub();
    const sink = new TestSink();
    h.connect(sink);
    h.broadcast({ data: 'a', id: '1' });
    sink.close();
    await turn();
    expect(sink.writes).toEqual([]);
  });

  it('leaves an evicted client closed when its transport drains afterwards', async () => {
    const h = hub({ maxBufferedBytes: 50 });
    const sink = new TestSink();
    const client = h.connect(sink);
    sink.accept = false;
    h.broadcast({ data: 'a', id: '1' });
    await turn();
    h.broadcast({ data: 'x'.repeat(60), id: '2' });
    expect(client.closed).toBe(true);
    // Gone: nothing counts as waiting for it, whatever its transport still holds.
    expect(sink.bufferedBytes).toBeGreaterThan(0);
    expect(client.bufferedBytes).toBe(0);
    sink.drain();
    expect(client.closed).toBe(true);
    expect(h.stats().congested).toBe(0);
  });

  it('stops the sweep at once when the last stalled client leaves', async () => {
    fakeClock();
    const h = hub({ timeout: 100, tolerance: 5, maxBufferedBytes: 1_000_000 });
    const sink = new TestSink();
    h.connect(sink);
    sink.accept = false;
    h.broadcast({ data: 'a' });
    await turn();
    expect(jest.getTimerCount()).toBe(1);
    sink.close();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('does not share a longer list of frames with a client whose frames are its beginning', async () => {
    const h = hub();
    const [room, plain] = [new TestSink(), new TestSink()];
    h.connect(room, { channels: ['room'] }); // written first: its three frames are the ones remembered
    h.connect(plain);
    h.broadcast({ data: '1', id: '1' });
    h.broadcast({ data: '2', id: '2' });
    h.broadcast({ data: 'r', id: 'r', channel: 'room' });
    await turn();
    expect(room.text).toBe('id: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: r\ndata: r\n\n');
    expect(plain.text).toBe('id: 1\ndata: 1\n\nid: 2\ndata: 2\n\n');
  });

  it('leaves a client closed, not congested, when its transport closes while refusing a write', async () => {
    const h = hub({ maxBufferedBytes: 1_000_000 });
    const sink = new TestSink();
    const client = h.connect(sink);
    sink.write = (chunk) => {
      sink.writes.push(new TextDecoder().decode(chunk));
      sink.close();
      return false;
    };
    h.broadcast({ data: 'a', id: '1' });
    await turn();
    expect(sink.writes).toEqual(['id: 1\ndata: a\n\n']);
    expect(client.closed).toBe(true);
    expect(h.size).toBe(0);
    expect(h.stats().congested).toBe(0);
  });

  it('gives clients with the same pending frames the very same buffer, and each its own frames', async () => {
    const h = hub();
    const [a, b, room] = [new TestSink(), new TestSink(), new TestSink()];
    h.connect(a);
    h.connect(b);
    h.connect(room, { channels: ['room'] });
    h.broadcast({ data: '1', id: '1' });
    h.broadcast({ data: '2', id: '2' });
    h.broadcast({ data: 'r', id: 'r', channel: 'room' });
    await turn();
    expect(a.chunks).toHaveLength(1);
    expect(b.chunks[0]).toBe(a.chunks[0]);
    expect(a.text).toBe('id: 1\ndata: 1\n\nid: 2\ndata: 2\n\n');
    expect(room.text).toBe('id: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: r\ndata: r\n\n');
    // Same count of frames, different frames: not shared.
    const [c, d] = [new TestSink(), new TestSink()];
    h.connect(c, { channels: ['x'] });
    h.connect(d, { channels: ['y'] });
    h.broadcast({ data: 'x', id: 'x', channel: 'x' });
    h.broadcast({ data: 'y', id: 'y', channel: 'y' });
    h.broadcast({ data: 'all', id: 'z' });
    await turn();
    expect(c.text).toBe('id: x\ndata: x\n\nid: z\ndata: all\n\n');
    expect(d.text).toBe('id: y\ndata: y\n\nid: z\ndata: all\n\n');
  });
});

describe('eviction timing (fake clock)', () => {
  it('evicts a client stalled for exactly timeout x tolerance, not one sweep earlier or later', async () => {
    fakeClock();
    const timeout = 100;
    const h = hub({ timeout, tolerance: 2, maxBufferedBytes: 1_000_000 });
    const evicted = evictions(h);
    const sink = new TestSink();
    h.connect(sink, { clientId: 'stalled' });
    sink.accept = false;
    h.broadcast({ data: 'a' });
    await turn();
    expect(h.stats().congested).toBe(1);
    // The sweep runs every timeout / 4 = 25 ms: the first timeout counts at 100 ms, the second at 200.
    jest.advanceTimersByTime(2 * timeout - 1);
    expect(evicted).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(evicted).toEqual([['stalled', 'timeout']]);
    expect(sink.destroyed).toBe(true);
    expect(h.stats().evictions.timeout).toBe(1);
  });

  it('counts the timeouts from zero again after a drain, and forgives one short of the tolerance', async () => {
    fakeClock();
    const h = hub({ timeout: 100, tolerance: 3, maxBufferedBytes: 1_000_000 });
    const evicted = evictions(h);
    const sink = new TestSink();
    h.connect(sink);
    sink.accept = false;
    h.broadcast({ data: 'a' });
    await turn();
    jest.advanceTimersByTime(250); // two timeouts
    sink.drain();
    sink.accept = false;
    h.broadcast({ data: 'b' });
    await turn();
    // Two more timeouts would make four in all, but the drain reset the count: still here.
    jest.advanceTimersByTime(299);
    expect(evicted).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(evicted).toEqual([[undefined, 'timeout']]);
  });

  it('never evicts for time with timeout: 0, however long the client stays stalled', async () => {
    fakeClock();
    const h = hub({ timeout: 0, tolerance: 1, maxBufferedBytes: 1_000_000 });
    const evicted = evictions(h);
    const sink = new TestSink();
    h.connect(sink);
    sink.accept = false;
    h.broadcast({ data: 'a' });
    await turn();
    // No sweep timer is started at all.
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(10 * 60_000);
    expect(evicted).toEqual([]);
    expect(h.stats().congested).toBe(1);
    sink.drain();
    expect(h.stats().congested).toBe(0);
  });

  it('stops the sweep once no client is stalled', async () => {
    fakeClock();
    const h = hub({ timeout: 100, tolerance: 5, maxBufferedBytes: 1_000_000 });
    const sink = new TestSink();
    h.connect(sink);
    sink.accept = false;
    h.broadcast({ data: 'a' });
    await turn();
    expect(jest.getTimerCount()).toBe(1);
    sink.drain();
    jest.advanceTimersByTime(25);
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('eviction timing (real clock)', () => {
  it('evicts a stalled client no sooner than timeout x tolerance and well before one more timeout', async () => {
    const timeout = 150;
    const h = hub({ timeout, tolerance: 2, maxBufferedBytes: 1_000_000 });
    const sink = new TestSink();
    h.connect(sink);
    sink.accept = false;
    h.broadcast({ data: 'a' });
    const started = Date.now();
    await new Promise<void>((resolve) => h.on('evict', () => resolve()));
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(2 * timeout - 5);
    // The sweep's own granularity is timeout / 4; the rest is slack for a loaded machine.
    expect(took).toBeLessThan(2 * timeout + timeout / 4 + 1000);
  });
});

describe('heartbeats', () => {
  it('keep reaching the remaining clients after one disconnects', async () => {
    fakeClock();
    const h = hub({ heartbeat: 1000 });
    const [a, b, c] = [new TestSink(), new TestSink(), new TestSink()];
    h.connect(a);
    h.connect(b);
    h.connect(c);
    jest.advanceTimersByTime(1000);
    await turn();
    expect([a, b, c].map((s) => s.writes)).toEqual([[':\n'], [':\n'], [':\n']]);
    b.close();
    expect(h.size).toBe(2);
    jest.advanceTimersByTime(1000);
    await turn();
    jest.advanceTimersByTime(1000);
    await turn();
    expect(a.writes).toEqual([':\n', ':\n', ':\n']);
    expect(c.writes).toEqual([':\n', ':\n', ':\n']);
    expect(b.writes).toEqual([':\n']);
  });

  it('stop with the last client and start again with the next one, on one timer', async () => {
    fakeClock();
    const h = hub({ heartbeat: 1000 });
    const first = new TestSink();
    h.connect(first);
    h.connect(new TestSink());
    expect(jest.getTimerCount()).toBe(1);
    h.disconnectAll();
    expect(jest.getTimerCount()).toBe(0);
    const next = new TestSink();
    h.connect(next);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(999);
    await turn();
    expect(next.writes).toEqual([]);
    jest.advanceTimersByTime(1);
    await turn();
    expect(next.writes).toEqual([':\n']);
  });

  it('skip a congested client, whose bytes are waiting anyway', async () => {
    fakeClock();
    const h = hub({ heartbeat: 1000, maxBufferedBytes: 1_000_000 });
    const stalled = new TestSink();
    const fine = new TestSink();
    const stalledClient = h.connect(stalled);
    h.connect(fine);
    stalled.accept = false;
    h.broadcast({ data: 'a', id: '1' });
    await turn();
    const queued = stalledClient.bufferedBytes;
    jest.advanceTimersByTime(3000);
    await turn();
    expect(stalledClient.bufferedBytes).toBe(queued);
    stalled.drain();
    expect(stalled.text).toBe('id: 1\ndata: a\n\n');
    expect(fine.text).toBe('id: 1\ndata: a\n\n:\n:\n:\n');
  });

  it('are not sent with heartbeat: 0', async () => {
    fakeClock();
    const h = hub({ heartbeat: 0 });
    const sink = new TestSink();
    h.connect(sink);
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(60_000);
    await turn();
    expect(sink.writes).toEqual([]);
  });
});

describe('a client whose prelude is not written yet', () => {
  /** initMessages that answers when the test says so. */
  function heldInit(): { options: HubOptions; release: () => void } {
    let release!: () => void;
    const ready = new Promise<void>((r) => (release = r));
    return {
      options: { initMessages: async () => (await ready, [{ data: 'welcome back' }]) },
      release,
    };
  }

  it('is evicted when what queues behind the prelude passes maxBufferedBytes, and nothing is written to it', async () => {
    const { options, release } = heldInit();
    const h = hub({ ...options, maxBufferedBytes: 100 });
    const evicted = evictions(h);
    const sink = new TestSink();
    const client: Client = h.connect(sink, { clientId: 'late', lastEventId: 'unknown' });
    h.broadcast({ data: 'x'.repeat(40) }); // about 60 bytes with its id
    expect(evicted).toEqual([]);
    h.broadcast({ data: 'y'.repeat(40) }); // about 120: past the bound
    expect(evicted).toEqual([['late', 'buffer']]);
    expect(client.closed).toBe(true);
    expect(sink.destroyed).toBe(true);
    release();
    await turn();
    await turn();
    expect(sink.writes).toEqual([]);
  });

  it('gets the prelude first, then what queued meanwhile, when it stays under the bound', async () => {
    const { options, release } = heldInit();
    const h = hub({ ...options, maxBufferedBytes: 1000 });
    h.broadcast({ data: 'before', id: 'b0' });
    const sink = new TestSink();
    h.connect(sink, { lastEventId: 'unknown' });
    h.broadcast({ data: 'live', id: 'l1' });
    await turn();
    expect(sink.writes).toEqual([]);
    release();
    await turn();
    await turn();
    // The gap fill carries the head's id (moving the client there), then the live event follows.
    expect(sink.text).toBe('id: b0\ndata: welcome back\n\nid: l1\ndata: live\n\n');
  });
});
