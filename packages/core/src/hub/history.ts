import type { Delivered } from '../message';

/** One broadcast as the hub keeps it: encoded once, with what decides who may see it. */
export interface Entry {
  /** Position in the hub's one ordered sequence; gap-free within a hub. */
  readonly seq: number;
  readonly id: string;
  readonly bytes: Uint8Array;
  /** Only subscribers of one of these channels may see it; undefined: everyone. */
  readonly channels?: readonly string[];
  /** The client id of a `broadcastTo` message; such an entry is replayed to that client id only. */
  readonly to?: string;
  readonly message: Delivered;
}

/**
 * A bounded, ordered, in-memory event history (a ring buffer), indexed by event id.
 * Oldest entries fall off once `capacity` entries are kept.
 */
export class History {
  private ring: (Entry | undefined)[];
  private start = 0;
  private count = 0;
  private readonly index = new Map<string, number>();
  /** Entries pushed since creation or `clear()`, kept or not. */
  private pushed = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array(Math.max(0, capacity));
  }

  get size(): number {
    return this.count;
  }

  /** True while nothing has fallen off: the history holds every entry pushed since it was created or cleared. */
  get complete(): boolean {
    return this.pushed === this.count;
  }

  /** The seq of the oldest retained entry, or undefined when empty. */
  get firstSeq(): number | undefined {
    return this.count ? this.ring[this.start]!.seq : undefined;
  }

  push(entry: Entry): void {
    this.pushed++;
    if (this.capacity === 0) return;
    if (this.count === this.capacity) {
      const old = this.ring[this.start]!;
      // An id reused by a later entry must keep pointing at the later one.
      if (this.index.get(old.id) === old.seq) this.index.delete(old.id);
      this.ring[this.start] = entry;
      this.start = (this.start + 1) % this.capacity;
    } else {
      this.ring[(this.start + this.count) % this.capacity] = entry;
      this.count++;
    }
    this.index.set(entry.id, entry.seq);
  }

  /** The seq of a retained id, or undefined. */
  seqOf(id: string): number | undefined {
    return this.index.get(id);
  }

  /** Retained entries with seq greater than `afterSeq`, oldest first. */
  after(afterSeq: number): Entry[] {
    const out: Entry[] = [];
    const first = this.firstSeq;
    if (first === undefined) return out;
    // Seqs are contiguous inside the ring, so the starting slot is computed, not searched.
    const skip = Math.max(0, afterSeq - first + 1);
    for (let i = skip; i < this.count; i++) out.push(this.ring[(this.start + i) % this.capacity]!);
    return out;
  }

  clear(): void {
    this.ring = new Array(Math.max(0, this.capacity));
    this.start = 0;
    this.count = 0;
    this.pushed = 0;
    this.index.clear();
  }
}
