import { createHub, SseHubError, type Client, type Delivered } from '@ssehub/core';
import { hubFactory } from './test-sink';
import { WebClient } from './web-client';

const { hub, closeHubs } = hubFactory();
afterEach(async () => {
  await closeHubs();
});

describe('broadcast', () => {
  it('reaches every connection, and a channel only its subscribers', async () => {
    const h = hub();
    const plain = new WebClient(h);
    const room = new WebClient(h, { channels: ['room-1'] });
    const other = new WebClient(h, { channels: ['room-2'] });
    h.broadcast({ data: 'all' });
    h.broadcast({ data: 'r1', channel: 'room-1' });
    await plain.settle();
    expect(plain.data()).toEqual(['all']);
    expect(room.data()).toEqual(['all', 'r1']);
    expect(other.data()).toEqual(['all']);
  });

  it('sends a broadcast to several channels once to a subscriber of any of them, and replays it the same way', async () => {
    const h = hub();
    const both = new WebClient(h, { channels: ['a', 'b'] });
    const onlyB = new WebClient(h, { channels: ['b'] });
    const other = new WebClient(h, { channels: ['c'] });
    const first = h.broadcast({ data: 'start' });
    h.broadcast({ data: 'ab', channel: ['a', 'b', 'a'] });
    await both.settle();
    expect(both.data()).toEqual(['start', 'ab']);
    expect(onlyB.data()).toEqual(['start', 'ab']);
    expect(other.data()).toEqual(['start']);
    const resumedA = new WebClient(h, { channels: ['a'], lastEventId: first });
    const resumedC = new WebClient(h, { channels: ['c'], lastEventId: first });
    await resumedA.settle();
    expect(resumedA.data()).toEqual(['ab']);
    expect(resumedC.data()).toEqual([]);
    expect(() => h.broadcast({ data: 'x', channel: [] })).toThrow(TypeError);
    expect(() => h.broadcast({ data: 'x', channel: ['ok', 'bad\n'] })).toThrow(/channel/);
  });

  it('assigns strictly increasing ids and returns them', async () => {
    const h = hub();
    const c = new WebClient(h);
    const ids = Array.from({ length: 50 }, (_, i) => h.broadcast({ data: i }));
    await c.settle();
    expect(c.events.map((e) => e.id)).toEqual(ids);
    for (let i = 1; i < ids.length; i++) {
      expect(BigInt(ids[i]!)).toBeGreaterThan(BigInt(ids[i - 1]!));
      expect(ids[i]! > ids[i - 1]!).toBe(true); // also in string order: same width
    }
    expect(h.lastEventId).toBe(ids[49]);
  });

  it('gives a later hub ids above an earlier one (no reuse after a restart)', async () => {
    const first = hub().broadcast({ data: 1 });
    await new Promise((r) => setTimeout(r, 2));
    const second = hub().broadcast({ data: 1 });
    expect(BigInt(second)).toBeGreaterThan(BigInt(first));
  });

  it('keeps an id the app gives', async () => {
    const h = hub();
    const c = new WebClient(h);
    expect(h.broadcast({ data: 'x', id: 'order-17' })).toBe('order-17');
    await c.settle();
    expect(c.events[0]!.id).toBe('order-17');
  });

  it('encodes once: every recipient gets the very same bytes', async () => {
    const h = hub();
    const seen: Uint8Array[] = [];
    const { WebSink } = await import('@ssehub/core/adapter');
    for (let i = 0; i < 3; i++) {
      const sink = new WebSink();
      const write = sink.write.bind(sink);
      // Observe what the hub hands each sink (the stream is still read for real).
      sink.write = (chunk: Uint8Array) => (seen.push(chunk), write(chunk));
      h.connect(sink);
      void sink.stream.getReader().read();
    }
    h.broadcast({ data: { big: 'x'.repeat(100) } });
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(3);
    expect(seen[1]).toBe(seen[0]);
    expect(seen[2]).toBe(seen[0]);
  });

  it('coalesces a burst into one write per client', async () => {
    const h = hub();
    const { WebSink } = await import('@ssehub/core/adapter');
    const sink = new WebSink();
    let writes = 0;
    const write = sink.write.bind(sink);
    sink.write = (chunk: Uint8Array) => (writes++, write(chunk));
    h.connect(sink);
    const reader = new WebClient(h);
    for (let i = 0; i < 10; i++) h.broadcast({ data: i });
    await reader.settle();
    expect(writes).toBe(1);
    expect(reader.data()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('throws a TypeError and sends nothing to anyone for an injected field', async () => {
    const h = hub();
    const c = new WebClient(h);
    expect(() => h.broadcast({ data: 'x', event: 'a\nb' })).toThrow(TypeError);
    expect(() => h.broadcast({ data: 'x', id: '1\r\ndata: evil' })).toThrow(TypeError);
    expect(() => h.broadcast({ data: 'x', retry: 1.5 })).toThrow(TypeError);
    expect(() => h.broadcastTo('u', { data: 'x', event: 'e\0' })).toThrow(TypeError);
    h.broadcast({ data: 'ok' });
    await c.settle();
    expect(c.data()).toEqual(['ok']);
    expect(h.lastEventId).toBe(c.events[0]!.id);
  });
});

describe('broadcastTo', () => {
  it('reaches every connection of that client id and no one else, and counts them', async () => {
    const h = hub();
    const a1 = new WebClient(h, { clientId: 'a' });
    const a2 = new WebClient(h, { clientId: 'a', channels: ['x'] });
    const b = new WebClient(h, { clientId: 'b' });
    expect(h.broadcastTo('a', { data: 'for a' })).toBe(2);
    expect(h.broadcastTo('nobody', { data: 'lost' })).toBe(0);
    await a1.settle();
    expect(a1.data()).toEqual(['for a']);
    expect(a2.data()).toEqual(['for a']);
    expect(b.data()).toEqual([]);
  });
});

describe('replay', () => {
  it('sends exactly the missed events, in order, then live ones', async () => {
    const h = hub();
    const ids = [1, 2, 3, 4, 5].map((n) => h.broadcast({ data: n }));
    const c = new WebClient(h, { lastEventId: ids[1] });
    h.broadcast({ data: 6 });
    await c.settle();
    expect(c.data()).toEqual(['3', '4', '5', '6']);
  });

  it('sends nothing to a client that is up to date, and nothing old to one with no id', async () => {
    const h = hub();
    const last = [1, 2].map((n) => h.broadcast({ data: n }))[1]!;
    const upToDate = new WebClient(h, { lastEventId: last });
    const fresh = new WebClient(h);
    h.broadcast({ data: 3 });
    await fresh.settle();
    expect(upToDate.data()).toEqual(['3']);
    expect(fresh.data()).toEqual(['3']);
  });

  it('replays the whole history to a client with no id when replayAll is set', async () => {
    const h = hub({ replayAll: true, history: 3 });
    for (let n = 1; n <= 5; n++) h.broadcast({ data: n });
    const c = new WebClient(h);
    await c.settle();
    expect(c.data()).toEqual(['3', '4', '5']);
  });

  it('replays channel events only to subscribers and private ones only to their client id', async () => {
    const h = hub();
    const start = h.broadcast({ data: 'start' });
    h.broadcast({ data: 'room', channel: 'room' });
    h.broadcastTo('alice', { data: 'secret for alice' });
    h.broadcastTo('bob', { data: 'secret for bob' });
    h.broadcast({ data: 'end' });
    const alice = new WebClient(h, { clientId: 'alice', lastEventId: start });
    const bob = new WebClient(h, { clientId: 'bob', channels: ['room'], lastEventId: start });
    const anon = new WebClient(h, { lastEventId: start });
    await alice.settle();
    expect(alice.data()).toEqual(['secret for alice', 'end']);
    expect(bob.data()).toEqual(['room', 'secret for bob', 'end']);
    expect(anon.data()).toEqual(['end']);
  });

  it('has no gap and no duplicate when broadcasts happen while a reconnect is served', async () => {
    const h = hub({ history: 10_000 });
    const first = h.broadcast({ data: 0 });
    const clients: WebClient[] = [];
    // Interleave connects with broadcasts, each client resuming from an id published just before.
    for (let n = 1; n <= 200; n++) {
      h.broadcast({ data: n });
      if (n % 20 === 0) clients.push(new WebClient(h, { lastEventId: first }));
    }
    for (let n = 201; n <= 300; n++) h.broadcast({ data: n });
    await clients[0]!.settle();
    const expected = Array.from({ length: 300 }, (_, i) => String(i + 1));
    for (const c of clients) expect(c.data()).toEqual(expected);
  });

  it('tells a client whose id is older than the history to resync, and replays nothing partial', async () => {
    const h = hub({ history: 2 });
    const old = h.broadcast({ data: 1 });
    h.broadcast({ data: 2 });
    h.broadcast({ data: 3 });
    const head = h.broadcast({ data: 4 });
    const c = new WebClient(h, { lastEventId: old });
    h.broadcast({ data: 5 });
    await c.settle();
    expect(c.events.map((e) => e.event)).toEqual(['ssehub-resync', 'message']);
    expect(JSON.parse(c.events[0]!.data)).toEqual({ reason: 'expired', lastEventId: old, hubLastEventId: head });
    // The resync event moves the client's last id to the head: its next reconnect resumes there.
    expect(c.events[0]!.id).toBe(head);
    expect(c.data()[1]).toBe('5');
  });

  it.each([
    ['an unknown id', 'not-an-id'],
    ['an over-long id', '9'.repeat(5000)],
    ['an id with a NUL', 'a\0b'],
    ['an id from the future', '99999999999999999'],
  ])('treats %s as unknown (resync), never a crash', async (_, lastEventId) => {
    const h = hub();
    h.broadcast({ data: 1 });
    const c = new WebClient(h, { lastEventId });
    await c.settle();
    expect(c.events).toHaveLength(1);
    expect(c.events[0]!.event).toBe('ssehub-resync');
    expect(JSON.parse(c.events[0]!.data).reason).toBe('unknown-id');
  });

  it('fills the gap with initMessages, then moves the client to the head', async () => {
    const calls: [string, string | undefined][] = [];
    const h = hub({
      history: 1,
      initMessages: (clientId, hubId) => {
        calls.push([clientId, hubId]);
        return [{ event: 'snapshot', data: { state: 'full' } }];
      },
    });
    h.broadcast({ data: 1 });
    const head = h.broadcast({ data: 2 });
    const c = new WebClient(h, { lastEventId: 'lost-id' });
    h.broadcast({ data: 3 });
    await c.settle();
    expect(calls).toEqual([['lost-id', head]]);
    expect(c.events.map((e) => [e.event, e.data])).toEqual([
      ['snapshot', '{"state":"full"}'],
      ['message', '3'],
    ]);
    // The last gap-filling message carries the head id, so every client moves there.
    expect(c.events[0]!.id).toBe(head);
  });

  it('moves the client to the head with an id-only block when the last gap message has its own id', async () => {
    const h = hub({ history: 1, initMessages: () => [{ data: 'mine', id: 'app-7' }] });
    h.broadcast({ data: 1 });
    const head = h.broadcast({ data: 2 });
    const c = new WebClient(h, { lastEventId: 'lost-id' });
    await c.settle();
    expect(c.events.map((e) => [e.data, e.id])).toEqual([['mine', 'app-7']]);
    expect(c.raw.endsWith(`id: ${head}\n\n`)).toBe(true);
  });

  it('holds live events back while async initMessages runs, then sends them after, in order', async () => {
    let release!: () => void;
    const h = hub({
      history: 1,
      initMessages: () => new Promise((resolve) => (release = () => resolve([{ data: 'filled' }]))),
    });
    h.broadcast({ data: 'old' });
    const c = new WebClient(h, { lastEventId: 'lost' });
    h.broadcast({ data: 'live-1' });
    h.broadcast({ data: 'live-2' });
    await c.settle();
    expect(c.data()).toEqual([]);
    release();
    await c.settle();
    expect(c.data()).toEqual(['filled', 'live-1', 'live-2']);
  });

  it('falls back to the resync event when initMessages throws, and reports the error', async () => {
    const errors: unknown[] = [];
    const h = hub({
      initMessages: () => {
        throw new Error('db down');
      },
      onError: (e) => errors.push(e),
    });
    h.broadcast({ data: 1 });
    const c = new WebClient(h, { lastEventId: 'lost' });
    await c.settle();
    expect(c.events.map((e) => e.event)).toEqual(['ssehub-resync']);
    expect((errors[0] as Error).message).toBe('db down');
  });

  it('sends the retry field first on every stream', async () => {
    const h = hub({ retry: 1234 });
    const c = new WebClient(h);
    await c.settle();
    h.broadcast({ data: 1 });
    await c.settle();
    // After the Web stream's own lead, ":\n", the hub's first bytes: one line, no blank line, so no empty event fires.
    expect(c.raw.startsWith(':\nretry: 1234\nid: ')).toBe(true);
    expect(c.retries).toEqual([1234]);
  });
});

describe('slow clients', () => {
  it('evicts a client whose queue passes maxBufferedBytes at once, without touching the others', async () => {
    const h = hub({ maxBufferedBytes: 200_000 });
    const evicted: [Client, string][] = [];
    h.on('evict', (c, reason) => evicted.push([c, reason]));
    const stalled = new WebClient(h, { clientId: 'stalled' }, { read: false });
    const healthy = new WebClient(h, { clientId: 'healthy' });
    const payload = 'x'.repeat(1000);
    for (let i = 0; i < 300; i++) {
      h.broadcast({ data: payload });
      if (i % 10 === 0) await healthy.settle();
    }
    await healthy.settle();
    expect(evicted.map(([c, r]) => [c.clientId, r])).toEqual([['stalled', 'buffer']]);
    expect(stalled.client.closed).toBe(true);
    expect(h.size).toBe(1);
    expect(healthy.events).toHaveLength(300);
  });

  it('evicts after `tolerance` timeouts in a row, then the client can resume from its last id', async () => {
    const h = hub({ timeout: 40, tolerance: 2, maxBufferedBytes: 10_000_000 });
    const evicted: string[] = [];
    h.on('evict', (c, reason) => evicted.push(reason));
    const stalled = new WebClient(h, {}, { read: false });
    const started = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push(h.broadcast({ data: 'y'.repeat(2000) }));
    await new Promise<void>((resolve) => h.on('evict', () => resolve()));
    // Two timeouts of 40 ms: not before 80 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect(evicted).toEqual(['timeout']);
    expect(stalled.client.closed).toBe(true);
    // Reconnecting with the last id it read loses nothing still in the history.
    const again = new WebClient(h, { lastEventId: ids[9] });
    await again.settle();
    expect(again.events.map((e) => e.id)).toEqual(ids.slice(10));
  });

  it('forgives a client that drains before the tolerance runs out', async () => {
    const h = hub({ timeout: 30, tolerance: 3, maxBufferedBytes: 10_000_000 });
    const evicted: string[] = [];
    h.on('evict', (_c, reason) => evicted.push(reason));
    const slow = new WebClient(h, {}, { read: false });
    for (let i = 0; i < 100; i++) h.broadcast({ data: 'z'.repeat(2000) });
    await new Promise((r) => setTimeout(r, 45)); // one failure, not three
    // Start reading: the stream drains and the failure count resets.
    slow.startReading();
    await new Promise((r) => setTimeout(r, 120));
    expect(evicted).toEqual([]);
    expect(slow.client.closed).toBe(false);
    expect(slow.events).toHaveLength(100);
  });
});

describe('lifecycle', () => {
  it('emits connect and disconnect, and counts channels and clients', async () => {
    const h = hub();
    const seen: string[] = [];
    h.on('connect', (c) => seen.push(`+${c.clientId}`));
    const off = h.on('disconnect', (c) => seen.push(`-${c.clientId}`));
    const a = new WebClient(h, { clientId: 'a', channels: ['x', 'y'] });
    new WebClient(h, { clientId: 'b', channels: ['x'] });
    expect(h.size).toBe(2);
    expect(h.channelSize('x')).toBe(2);
    expect(h.channels().sort()).toEqual(['x', 'y']);
    await a.cancel();
    expect(seen).toEqual(['+a', '+b', '-a']);
    expect(h.size).toBe(1);
    expect(h.channels()).toEqual(['x']);
    off();
    h.disconnect('b');
    expect(seen).toEqual(['+a', '+b', '-a']);
    expect(h.size).toBe(0);
  });

  it('disconnectAll() ends every stream and keeps the hub open (go-libsse Restart)', async () => {
    const h = hub();
    const a = new WebClient(h, { clientId: 'a' });
    const b = new WebClient(h, { channels: ['x'] });
    const before = h.broadcast({ data: 1 });
    expect(h.disconnectAll()).toBe(2);
    await a.settle();
    expect(a.done && b.done).toBe(true);
    expect(h.size).toBe(0);
    h.broadcast({ data: 2 });
    const back = new WebClient(h, { clientId: 'a', lastEventId: before });
    await back.settle();
    expect(back.data()).toEqual(['2']);
  });

  it('disconnect(clientId) ends that client id streams only', async () => {
    const h = hub();
    const a1 = new WebClient(h, { clientId: 'a' });
    const a2 = new WebClient(h, { clientId: 'a' });
    const b = new WebClient(h, { clientId: 'b' });
    expect(h.disconnect('a')).toBe(2);
    await b.settle();
    expect(a1.done && a2.done).toBe(true);
    expect(b.done).toBe(false);
    expect(h.size).toBe(1);
  });

  it('sends heartbeat comments on one hub-wide timer', async () => {
    const h = hub({ heartbeat: 20 });
    const a = new WebClient(h);
    const b = new WebClient(h);
    await new Promise((r) => setTimeout(r, 75));
    expect(a.comments.length).toBeGreaterThanOrEqual(2);
    expect(b.comments.length).toBeGreaterThanOrEqual(2);
    expect(a.events).toHaveLength(0);
  });

  it('listen() sees every broadcast with its id, and ends when the hub closes', async () => {
    const h = hub();
    const got: Delivered[] = [];
    const loop = (async () => {
      for await (const m of h.listen()) got.push(m);
    })();
    const id1 = h.broadcast({ data: 'a', event: 'e' });
    h.broadcast({ data: 'b', channel: 'c' });
    h.broadcastTo('u', { data: 'c' });
    await new Promise((r) => setImmediate(r));
    await h.close();
    await loop;
    expect(got.map((m) => [m.data, m.id === id1, m.channel, m.clientId])).toEqual([
      ['a', true, undefined, undefined],
      ['b', false, 'c', undefined],
      ['c', false, undefined, 'u'],
    ]);
  });

  it('close() ends every stream and refuses further use', async () => {
    const h = hub();
    const c = new WebClient(h);
    await h.close();
    await c.settle();
    expect(c.done).toBe(true);
    expect(h.size).toBe(0);
    expect(() => h.broadcast({ data: 1 })).toThrow(SseHubError);
    expect(() => new WebClient(h)).toThrow(/closed/);
  });

  it('refuses connections past maxClients', () => {
    const h = hub({ maxClients: 1 });
    new WebClient(h);
    expect(h.full).toBe(true);
    expect(() => new WebClient(h)).toThrow(expect.objectContaining({ code: 'HUB_FULL' }));
  });

  it('rejects bad options with a TypeError', () => {
    expect(() => createHub({ history: -1 })).toThrow(TypeError);
    expect(() => createHub({ tolerance: 0 })).toThrow(TypeError);
    expect(() => createHub({ retry: 1.5 })).toThrow(TypeError);
    expect(() => createHub({ resyncEvent: 'a\nb' })).toThrow(TypeError);
  });

  it('tells a logger about connects, disconnects, evictions and errors', async () => {
    const lines: [string, string, Record<string, unknown> | undefined][] = [];
    const logger = {
      debug: (m: string, d?: Record<string, unknown>) => lines.push(['debug', m, d]),
      warn: (m: string, d?: Record<string, unknown>) => lines.push(['warn', m, d]),
      error: (m: string, d?: Record<string, unknown>) => lines.push(['error', m, d]),
    };
    const h = hub({ logger, maxBufferedBytes: 10_000, initMessages: () => Promise.reject(new Error('store down')) });
    const a = new WebClient(h, { clientId: 'a', channels: ['x'] });
    await a.cancel();
    new WebClient(h, { clientId: 'slow' }, { read: false });
    for (let i = 0; i < 100; i++) h.broadcast({ data: 'x'.repeat(1000) });
    new WebClient(h, { clientId: 'gap', lastEventId: 'lost' });
    await a.settle();
    expect(lines[0]).toEqual(['debug', 'ssehub: connect', { id: '1', clientId: 'a', channels: ['x'], lastEventId: undefined }]);
    expect(lines[1]).toEqual(['debug', 'ssehub: disconnect', { id: '1', clientId: 'a', channels: ['x'] }]);
    expect(lines.find((l) => l[0] === 'warn')).toEqual([
      'warn',
      'ssehub: evicted a client that fell behind',
      expect.objectContaining({ clientId: 'slow', reason: 'buffer' }),
    ]);
    const error = lines.find((l) => l[0] === 'error')!;
    expect((error[2]!.error as Error).message).toBe('store down');
  });

  it('reports a throwing event handler without breaking delivery', async () => {
    const errors: unknown[] = [];
    const h = hub({ onError: (e) => errors.push(e) });
    h.on('connect', () => {
      throw new Error('handler bug');
    });
    const c = new WebClient(h);
    h.broadcast({ data: 'still works' });
    await c.settle();
    expect(c.data()).toEqual(['still works']);
    expect(errors).toHaveLength(1);
  });
});
