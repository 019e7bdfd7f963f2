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
});
