import type { SseEvent } from './event';

/**
 * The buffer behind one async iterator: events wait here until the loop asks for them. The stream
 * checks {@link EventQueue.size} after every chunk and stops reading while it is at the high-water
 * mark; `onTake` tells it that room was made.
 */
export class EventQueue implements AsyncIterableIterator<SseEvent> {
  private readonly items: SseEvent[] = [];
  private waiting: ((result: IteratorResult<SseEvent>) => void) | undefined;
  private ended = false;

  constructor(
    private readonly onTake: () => void,
    private readonly onReturn: (queue: EventQueue) => void,
  ) {}

  get size(): number {
    return this.items.length;
  }

  push(event: SseEvent): void {
    if (this.ended) return;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting({ value: event, done: false });
    } else {
      this.items.push(event);
    }
  }

  /** No more events: the loop ends once it has read what is queued. */
  end(): void {
    this.ended = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<SseEvent>> {
    const event = this.items.shift();
    if (event !== undefined) {
      this.onTake();
      return Promise.resolve({ value: event, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** Leaving a `for await` loop early (break, throw, return) lands here. */
  return(): Promise<IteratorResult<SseEvent>> {
    this.items.length = 0;
    this.end();
    this.onReturn(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
