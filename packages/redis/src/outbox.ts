import type { BackplaneRecord } from '@ssehub/core';

/** One broadcast of this hub on its way to Redis. */
export interface Queued {
  readonly record: BackplaneRecord;
  /**
   * `waiting`: to be sent (never sent, or its send failed); `sent`: a publish is in flight;
   * `done`: Redis has it (the reply came, or the reader saw it in the stream), or it was dropped.
   */
  state: 'waiting' | 'sent' | 'done';
}

/**
 * This hub's broadcasts that Redis has not confirmed yet, in publish order. An entry leaves when Redis
 * confirms it (or the reader sees it in the stream), never because it was sent: a send that fails
 * puts it back to `waiting` in its place, so what is resent keeps publish order. The oldest come
 * first; done entries are cleared from the front as they go.
 */
export class Outbox {
  private items: Queued[] = [];
  private head = 0;
  private readonly byUid = new Map<string, Queued>();
  /** Entries to be sent. */
  waiting = 0;
  /** Entries with a publish in flight. */
  sent = 0;

  /** Entries Redis has not confirmed: waiting or in flight. */
  get size(): number {
    return this.waiting + this.sent;
  }

  add(record: BackplaneRecord): Queued {
    const q: Queued = { record, state: 'waiting' };
    this.items.push(q);
    this.byUid.set(record.uid, q);
    this.waiting++;
    return q;
  }

  /** A publish of `q` is on its way. */
  sending(q: Queued): void {
    if (q.state !== 'waiting') return;
    q.state = 'sent';
    this.waiting--;
    this.sent++;
  }

  /** The publish of `q` failed without Redis confirming it: it waits again, in its place. */
  failed(q: Queued): void {
    if (q.state !== 'sent') return;
    q.state = 'waiting';
    this.sent--;
    this.waiting++;
  }

  /** Redis has `q` (or it is dropped): it leaves the outbox. Idempotent. */
  done(q: Queued): void {
    if (q.state === 'done') return;
    if (q.state === 'waiting') this.waiting--;
    else this.sent--;
    q.state = 'done';
    this.byUid.delete(q.record.uid);
    while (this.head < this.items.length && this.items[this.head]!.state === 'done') this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** The reader saw this uid in the stream: if it is one of ours, Redis has it. */
  landed(uid: string): void {
    const q = this.byUid.get(uid);
    if (q) this.done(q);
  }

  /** Up to `n` of the oldest waiting entries, in publish order. */
  oldestWaiting(n: number): Queued[] {
    const out: Queued[] = [];
    for (let i = this.head; i < this.items.length && out.length < n; i++) {
      if (this.items[i]!.state === 'waiting') out.push(this.items[i]!);
    }
    return out;
  }

  /** Takes the oldest waiting entry out (the outbox is full), or undefined. */
  dropOldestWaiting(): Queued | undefined {
    const q = this.oldestWaiting(1)[0];
    if (q) this.done(q);
    return q;
  }
}
