/**
 * What the core's unit tests share: a sink the test controls, and hubs that are closed after each test.
 */
import { createHub, type Hub, type HubOptions } from '@ssehub/core';
import type { Sink } from '@ssehub/core/adapter';

/** A transport that says "wait" when told to, and drains when told to. */
export class TestSink implements Sink {
  readonly writes: string[] = [];
  readonly chunks: Uint8Array[] = [];
  /** What the next writes return. */
  accept = true;
  bufferedBytes = 0;
  ended = false;
  destroyed = false;
  private drainers: (() => void)[] = [];
  private closers: (() => void)[] = [];

  write(chunk: Uint8Array): boolean {
    if (this.ended || this.destroyed) throw new Error('write after the end');
    this.chunks.push(chunk);
    this.writes.push(new TextDecoder().decode(chunk));
    if (!this.accept) this.bufferedBytes += chunk.byteLength;
    return this.accept;
  }
  onDrain(fn: () => void): void {
    this.drainers.push(fn);
  }
  onClose(fn: () => void): void {
    this.closers.push(fn);
  }
  end(): void {
    this.ended = true;
    this.close();
  }
  destroy(): void {
    this.destroyed = true;
    this.close();
  }
  /** The transport caught up: calls the drain callbacks once. */
  drain(): void {
    this.accept = true;
    this.bufferedBytes = 0;
    for (const fn of this.drainers.splice(0)) fn();
  }
  /** The peer left. */
  close(): void {
    for (const fn of this.closers.splice(0)) fn();
  }
  get text(): string {
    return this.writes.join('');
  }
}

/**
 * Makes hubs (heartbeat off unless asked) and closes them all: call `closeHubs()` in an `afterEach`,
 * after anything that must come first there (real timers back).
 */
export function hubFactory(): { hub: (options?: HubOptions) => Hub; closeHubs: () => Promise<void> } {
  let hubs: Hub[] = [];
  return {
    hub(options = {}) {
      const h = createHub({ heartbeat: 0, ...options });
      hubs.push(h);
      return h;
    },
    async closeHubs() {
      await Promise.all(hubs.map((h) => h.close()));
      hubs = [];
    },
  };
}
