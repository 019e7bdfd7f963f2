/**
 * The ids a hub gives its events: `base + seq`, decimal, strictly increasing (also in string order),
 * and above every id an earlier process of the app handed out, since `base` is the start time in
 * microseconds. So a restarted hub tells an earlier process's id from one of its own, and never
 * reuses one. With a backplane, ids are opaque unique strings instead (see {@link IdSource.uid}).
 */
export class IdSource {
  readonly base = Date.now() * 1000;
  /** Position of the last entry in this hub's order; gap-free. */
  seq = 0;
  /** Broadcast ids with a backplane: unique across processes without asking anyone. */
  private readonly uidPrefix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}-`;
  private uidSeq = 0;

  /** The next position in this hub's order. */
  next(): number {
    return ++this.seq;
  }

  /** The id this hub gives the entry at `seq` when the app chose none. */
  idOf(seq: number): string {
    return String(this.base + seq);
  }

  /** A new id unique across every hub sharing a backplane. */
  uid(): string {
    return this.uidPrefix + (++this.uidSeq).toString(36);
  }

  /** Where an id comes from: this process (`ours`), an earlier one (`earlier`), or neither (`foreign`). */
  originOf(id: string): 'ours' | 'earlier' | 'foreign' {
    if (!/^\d+$/.test(id)) return 'foreign';
    const n = Number(id);
    if (n <= this.base) return 'earlier';
    return n <= this.base + this.seq ? 'ours' : 'foreign';
  }
}
