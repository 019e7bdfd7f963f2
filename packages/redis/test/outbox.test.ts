/**
 * The Redis backplane's outbox: this hub's broadcasts that Redis has not confirmed, in publish order,
 * with their state counted, cleared as Redis confirms them, and bounded in memory over a long run.
 */
import type { BackplaneRecord } from '@ssehub/core';
import { Outbox } from '../src/outbox';

const record = (n: number): BackplaneRecord => ({ id: String(n), uid: `u${n}`, data: `d${n}`, json: false });
const counts = (o: Outbox) => ({ waiting: o.waiting, sent: o.sent, size: o.size });
/** The outbox's backing array: what a long run keeps in memory (private; read to check the bound). */
const kept = (o: Outbox) => (o as unknown as { items: unknown[] }).items.length;

describe('Outbox', () => {
  it('counts entries as they are sent, fail and are confirmed', () => {
    const o = new Outbox();
    const [a, b] = [o.add(record(1)), o.add(record(2))];
    expect(counts(o)).toEqual({ waiting: 2, sent: 0, size: 2 });
    o.sending(a);
    expect(counts(o)).toEqual({ waiting: 1, sent: 1, size: 2 });
    o.failed(a);
    expect(counts(o)).toEqual({ waiting: 2, sent: 0, size: 2 });
    o.sending(a);
    o.done(a);
    expect(counts(o)).toEqual({ waiting: 1, sent: 0, size: 1 });
    o.done(b);
    expect(counts(o)).toEqual({ waiting: 0, sent: 0, size: 0 });
  });

  it('ignores a send of an entry not waiting, a failure of one not in flight, and a second done', () => {
    const o = new Outbox();
    const a = o.add(record(1));
    o.failed(a); // never sent
    expect(counts(o)).toEqual({ waiting: 1, sent: 0, size: 1 });
    o.sending(a);
    o.sending(a); // already in flight
    expect(counts(o)).toEqual({ waiting: 0, sent: 1, size: 1 });
    o.done(a);
    o.done(a);
    o.sending(a);
    o.failed(a);
    expect(counts(o)).toEqual({ waiting: 0, sent: 0, size: 0 });
    expect(a.state).toBe('done');
  });

  it('hands out the oldest waiting entries in publish order, a failed one back in its place, at most n', () => {
    const o = new Outbox();
    const q = [1, 2, 3, 4].map((n) => o.add(record(n)));
    o.sending(q[0]!);
    o.sending(q[1]!);
    expect(o.oldestWaiting(10).map((x) => x.record.id)).toEqual(['3', '4']);
    o.failed(q[0]!);
    expect(o.oldestWaiting(10).map((x) => x.record.id)).toEqual(['1', '3', '4']);
    expect(o.oldestWaiting(2).map((x) => x.record.id)).toEqual(['1', '3']);
    expect(o.oldestWaiting(0)).toEqual([]);
  });

  it('takes an entry out when the reader sees its uid in the stream, and ignores other hubs’ uids', () => {
    const o = new Outbox();
    const a = o.add(record(1));
    o.add(record(2));
    o.sending(a);
    o.landed('someone-else');
    expect(o.size).toBe(2);
    o.landed('u1');
    expect(a.state).toBe('done');
    expect(counts(o)).toEqual({ waiting: 1, sent: 0, size: 1 });
    expect(o.oldestWaiting(10).map((x) => x.record.id)).toEqual(['2']);
  });

  it('drops the oldest waiting entry when full, skipping those in flight, and nothing from an empty outbox', () => {
    const o = new Outbox();
    expect(o.dropOldestWaiting()).toBeUndefined();
    const q = [1, 2, 3].map((n) => o.add(record(n)));
    o.sending(q[0]!);
    expect(o.dropOldestWaiting()).toBe(q[1]);
    expect(q[1]!.state).toBe('done');
    expect(counts(o)).toEqual({ waiting: 1, sent: 1, size: 2 });
    expect(o.oldestWaiting(10)).toEqual([q[2]]);
  });

  it('forgets confirmed entries: empty once all are done, and bounded over a long run of confirmations', () => {
    const o = new Outbox();
    const first = [1, 2, 3].map((n) => o.add(record(n)));
    o.done(first[1]!); // confirmed out of order: the front still holds 1
    expect(kept(o)).toBe(3);
    o.done(first[0]!);
    o.done(first[2]!);
    expect(kept(o)).toBe(0);

    // A steady stream confirmed in order, always one in flight: the array never holds much more than
    // the 1024 confirmed entries it may keep at its front.
    let previous = o.add(record(1));
    let most = 0;
    for (let n = 2; n <= 10_000; n++) {
      const next = o.add(record(n));
      o.done(previous);
      previous = next;
      most = Math.max(most, kept(o));
    }
    expect(most).toBeLessThanOrEqual(1026);
    expect(o.oldestWaiting(10)).toEqual([previous]);
    expect(o.size).toBe(1);
  });

  it('compacts its front once more than 1024 confirmed entries make up over half of it', () => {
    const o = new Outbox();
    const all = Array.from({ length: 3000 }, (_, i) => o.add(record(i)));
    // Confirmed from the front while the last one stays: the array is cut only past 1024 and half.
    for (let i = 0; i < 1024; i++) o.done(all[i]!);
    expect(kept(o)).toBe(3000);
    for (let i = 1024; i < 1500; i++) o.done(all[i]!);
    expect(kept(o)).toBe(3000);
    o.done(all[1500]!);
    expect(kept(o)).toBe(1499);
    expect(o.oldestWaiting(1)).toEqual([all[1501]]);
    expect(o.size).toBe(1499);

    // At exactly 1024 confirmed entries nothing is cut, even when they are over half; at 1025 it is.
    const p = new Outbox();
    const two = Array.from({ length: 2000 }, (_, i) => p.add(record(i)));
    for (let i = 0; i < 1024; i++) p.done(two[i]!);
    expect(kept(p)).toBe(2000);
    p.done(two[1024]!);
    expect(kept(p)).toBe(975);
  });
});
