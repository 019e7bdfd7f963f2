import type { Connection } from './connection';

/**
 * `maxLifetime`: ends each stream between 75% and 100% of it (so a crowd that connected together
 * does not reconnect together), on one hub-wide timer that runs only while streams are open.
 */
export class Lifetimes {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly maxLifetime: number,
    private readonly connections: ReadonlySet<Connection>,
    private readonly end: (c: Connection) => void,
  ) {}

  /** Gives a new connection its end time. */
  track(c: Connection): void {
    if (this.maxLifetime <= 0) return;
    c.endsAt = c.connectedAt + this.maxLifetime * (0.75 + 0.25 * Math.random());
    if (this.timer) return;
    // Often enough to end a stream within 5% of its lifetime, and at least once a second.
    const every = Math.min(1000, Math.max(10, Math.floor(this.maxLifetime / 20)));
    this.timer = setInterval(this.check, every);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private readonly check = (): void => {
    const now = Date.now();
    for (const c of this.connections) if (now >= c.endsAt) this.end(c);
  };
}
