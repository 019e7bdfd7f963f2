import { SseHubError } from '../errors';
import type { Delivered } from '../message';

/** Options of `hub.listen()`. */
export interface ListenOptions {
  /** Ends the iteration when aborted. Default: none. */
  signal?: AbortSignal;
  /** Messages a slow consumer may fall behind by before the iterator throws. Default: 10000. */
  maxQueue?: number;
}

interface Listener {
  queue: Delivered[];
  wake: (() => void) | undefined;
  done: boolean;
  error: Error | undefined;
  max: number;
}

/** The in-process consumers of `hub.listen()`: each gets every broadcast, in order, with its id. */
export class Listeners {
  private readonly set = new Set<Listener>();

  get size(): number {
    return this.set.size;
  }

  /** A new iterator over every broadcast from now on. */
  listen(options: ListenOptions = {}): AsyncIterableIterator<Delivered> {
    const l: Listener = { queue: [], wake: undefined, done: false, error: undefined, max: options.maxQueue ?? 10_000 };
    this.set.add(l);
    const stop = () => {
      l.done = true;
      l.wake?.();
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    if (options.signal?.aborted) stop();
    const set = this.set;
    async function* iterate(): AsyncGenerator<Delivered> {
      try {
        for (;;) {
          while (l.queue.length) yield l.queue.shift()!;
          if (l.error) throw l.error;
          if (l.done) return;
          await new Promise<void>((resolve) => (l.wake = resolve));
          l.wake = undefined;
        }
      } finally {
        set.delete(l);
        options.signal?.removeEventListener('abort', stop);
      }
    }
    return iterate();
  }

  /** Hands a broadcast to every consumer; one that fell `maxQueue` behind ends with an error. */
  notify(m: Delivered): void {
    for (const l of this.set) {
      if (l.done) continue;
      if (l.queue.length >= l.max) {
        l.error = new SseHubError(`ssehub: listen() consumer fell ${l.max} messages behind`, 'LISTENER_BEHIND');
        l.done = true;
        l.queue = [];
        this.set.delete(l);
      } else {
        l.queue.push(m);
      }
      l.wake?.();
    }
  }

  /** Ends every iteration (after what is queued). */
  endAll(): void {
    for (const l of this.set) {
      l.done = true;
      l.wake?.();
    }
  }
}
