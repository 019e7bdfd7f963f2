import { SseHubError } from '@ssehub/core';
import type { Delivered } from '@ssehub/core';
import { Listeners } from '../src/hub/listeners';

// hub.listen()'s consumers, driven directly: what each iterator yields, when it ends, and what a
// consumer that falls behind gets.

const msg = (n: number): Delivered => ({ id: String(n), data: n }) as unknown as Delivered;
const ids = (got: Delivered[]) => got.map((m) => m.id);

/** Reads an iterator to its end, returning what it yielded and the error it ended with, if any. */
async function drain(it: AsyncIterableIterator<Delivered>): Promise<{ got: Delivered[]; error?: unknown }> {
  const got: Delivered[] = [];
  try {
    for await (const m of it) got.push(m);
    return { got };
  } catch (error) {
    return { got, error };
  }
}

describe('Listeners', () => {
  it('gives every consumer every notification in order, and ends them after what is queued', async () => {
    const ls = new Listeners();
    const a = ls.listen();
    const b = ls.listen();
    expect(ls.size).toBe(2);
    for (let i = 1; i <= 3; i++) ls.notify(msg(i));
    ls.endAll();
    const [ra, rb] = await Promise.all([drain(a), drain(b)]);
    expect(ids(ra.got)).toEqual(['1', '2', '3']);
    expect(ids(rb.got)).toEqual(['1', '2', '3']);
    expect(ls.size).toBe(0);
  });

  it('wakes a consumer that waits for the next notification', async () => {
    const ls = new Listeners();
    const it = ls.listen();
    const next = it.next();
    await new Promise((r) => setImmediate(r));
    ls.notify(msg(1));
    await expect(next).resolves.toEqual({ value: msg(1), done: false });
    const end = it.next();
    ls.endAll();
    await expect(end).resolves.toEqual({ value: undefined, done: true });
  });

  it('ends a consumer whose signal aborts, and forgets it', async () => {
    const ls = new Listeners();
    const ac = new AbortController();
    const it = ls.listen({ signal: ac.signal });
    const other = ls.listen();
    ls.notify(msg(1));
    const pending = drain(it);
    await new Promise((r) => setImmediate(r));
    ac.abort();
    expect(ids((await pending).got)).toEqual(['1']);
    expect(ls.size).toBe(1);
    // Later notifications go to the others only.
    ls.notify(msg(2));
    ls.endAll();
    expect(ids((await drain(other)).got)).toEqual(['1', '2']);
  });

  it('takes nothing for a signal already aborted: the iteration ends at once', async () => {
    const ls = new Listeners();
    const ac = new AbortController();
    ac.abort();
    const it = ls.listen({ signal: ac.signal });
    ls.notify(msg(1));
    const result = await Promise.race([
      drain(it),
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), 500)),
    ]);
    expect(result).toEqual({ got: [] });
    expect(ls.size).toBe(0);
  });

  it('stops listening to the signal once the iteration ends', async () => {
    const ls = new Listeners();
    const signal = new AbortController().signal;
    const removed: string[] = [];
    const remove = signal.removeEventListener.bind(signal);
    signal.removeEventListener = ((type: string, fn: EventListener) => {
      removed.push(type);
      remove(type, fn);
    }) as typeof signal.removeEventListener;
    const it = ls.listen({ signal });
    ls.endAll();
    await drain(it);
    expect(removed).toEqual(['abort']);
  });

  it('forgets a consumer that stops iterating early', async () => {
    const ls = new Listeners();
    const it = ls.listen();
    ls.notify(msg(1));
    ls.notify(msg(2));
    for await (const m of it) {
      expect(m.id).toBe('1');
      break;
    }
    expect(ls.size).toBe(0);
  });

  it('ends a consumer maxQueue behind with LISTENER_BEHIND, after none of its queue, and keeps the others', async () => {
    const ls = new Listeners();
    const slow = ls.listen({ maxQueue: 2 });
    const fast = ls.listen({ maxQueue: 4 });
    ls.notify(msg(1));
    ls.notify(msg(2)); // slow holds exactly maxQueue: still listening
    expect(ls.size).toBe(2);
    ls.notify(msg(3)); // one more: slow is behind
    expect(ls.size).toBe(1);
    ls.notify(msg(4)); // nothing more reaches it
    ls.endAll();
    const r = await drain(slow);
    expect(r.got).toEqual([]);
    expect(r.error).toBeInstanceOf(SseHubError);
    expect((r.error as SseHubError).code).toBe('LISTENER_BEHIND');
    expect((r.error as Error).message).toBe('ssehub: listen() consumer fell 2 messages behind');
    const f = await drain(fast);
    expect(f.error).toBeUndefined();
    expect(ids(f.got)).toEqual(['1', '2', '3', '4']);
  });

  it('keeps a consumer that reads as fast as it is notified, whatever the count', async () => {
    const ls = new Listeners();
    const it = ls.listen({ maxQueue: 1 });
    const got: Delivered[] = [];
    for (let i = 1; i <= 5; i++) {
      ls.notify(msg(i));
      const r = await it.next();
      got.push(r.value as Delivered);
    }
    expect(ids(got)).toEqual(['1', '2', '3', '4', '5']);
    expect(ls.size).toBe(1);
  });

  it('queues nothing more for a consumer that has ended', async () => {
    const ls = new Listeners();
    const ac = new AbortController();
    const it = ls.listen({ signal: ac.signal });
    ac.abort(); // ended, not yet read: still in the set until its iteration runs
    ls.notify(msg(1));
    expect((await drain(it)).got).toEqual([]);
  });

  it('defaults maxQueue to 10000', async () => {
    const ls = new Listeners();
    const it = ls.listen();
    for (let i = 1; i <= 10_000; i++) ls.notify(msg(i));
    expect(ls.size).toBe(1);
    ls.notify(msg(10_001));
    expect(ls.size).toBe(0);
    const r = await drain(it);
    expect((r.error as Error).message).toBe('ssehub: listen() consumer fell 10000 messages behind');
  });
});
