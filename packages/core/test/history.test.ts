import { History, type Entry } from '../src/hub/history';

const entry = (seq: number, id = String(seq)): Entry => ({
  seq,
  id,
  bytes: new Uint8Array(),
  message: { id, data: seq },
});

describe('History', () => {
  it('keeps the newest `capacity` entries, oldest first', () => {
    const h = new History(3);
    for (let s = 1; s <= 5; s++) h.push(entry(s));
    expect(h.size).toBe(3);
    expect(h.firstSeq).toBe(3);
    expect(h.after(0).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(h.after(3).map((e) => e.seq)).toEqual([4, 5]);
    expect(h.after(5)).toEqual([]);
  });

  it('forgets the ids of entries that fell off', () => {
    const h = new History(2);
    for (let s = 1; s <= 4; s++) h.push(entry(s));
    expect(h.seqOf('1')).toBeUndefined();
    expect(h.seqOf('2')).toBeUndefined();
    expect(h.seqOf('3')).toBe(3);
    expect(h.seqOf('4')).toBe(4);
  });

  it('keeps an id pointing at its latest entry when an app reuses it', () => {
    const h = new History(2);
    h.push(entry(1, 'same'));
    h.push(entry(2, 'same'));
    h.push(entry(3, 'other')); // drops seq 1, whose id now belongs to seq 2
    expect(h.seqOf('same')).toBe(2);
  });

  it('keeps nothing with capacity 0', () => {
    const h = new History(0);
    h.push(entry(1));
    expect(h.size).toBe(0);
    expect(h.after(0)).toEqual([]);
    expect(h.seqOf('1')).toBeUndefined();
  });

  it('is complete until an entry falls off, and not once one has', () => {
    const h = new History(2);
    expect(h.complete).toBe(true);
    expect(h.firstSeq).toBeUndefined();
    h.push(entry(1));
    h.push(entry(2));
    expect(h.complete).toBe(true);
    h.push(entry(3));
    expect(h.complete).toBe(false);
    // With capacity 0 nothing is kept, so one push is already a loss.
    const none = new History(0);
    none.push(entry(1));
    expect(none.complete).toBe(false);
  });

  it('replays from the computed slot after the ring has wrapped', () => {
    const h = new History(3);
    for (let s = 1; s <= 7; s++) h.push(entry(s));
    expect(h.after(0).map((e) => e.seq)).toEqual([5, 6, 7]);
    expect(h.after(5).map((e) => e.seq)).toEqual([6, 7]);
    expect(h.after(6).map((e) => e.seq)).toEqual([7]);
    expect(h.after(100)).toEqual([]);
  });

  it('clear() forgets every entry and id, and starts over complete', () => {
    const h = new History(2);
    for (let s = 1; s <= 3; s++) h.push(entry(s));
    expect(h.complete).toBe(false);
    h.clear();
    expect(h.size).toBe(0);
    expect(h.firstSeq).toBeUndefined();
    expect(h.after(0)).toEqual([]);
    expect(h.seqOf('2')).toBeUndefined();
    expect(h.seqOf('3')).toBeUndefined();
    expect(h.complete).toBe(true);
    // It fills again from an empty ring, keeping its capacity.
    for (let s = 10; s <= 12; s++) h.push(entry(s));
    expect(h.after(0).map((e) => e.seq)).toEqual([11, 12]);
    expect(h.seqOf('12')).toBe(12);
    expect(h.complete).toBe(false);
  });
});
