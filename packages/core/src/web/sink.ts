import type { Sink } from '../sink';

/** Default bytes a Web stream may queue before `write` reports backpressure: 64 KiB. */
export const WEB_HIGH_WATER_MARK = 64 * 1024;

/**
 * The first bytes of every Web stream: a lone comment line, with no blank line after it, so a client
 * that dispatches an event on every blank line, even one with no data, sees no empty event.
 */
export function streamLead(): Uint8Array {
  return new Uint8Array([0x3a, 0x0a]); // ":\n"
}

/** Options of a {@link WebSink}. */
export interface WebSinkOptions {
  /** Enqueue {@link streamLead} as the first chunk. Default: true (a gzip sink sends it compressed instead). */
  lead?: boolean;
}

/**
 * A sink that feeds a Web `ReadableStream` (Hono, Bun, Deno, workers): hand {@link WebSink.stream}
 * to a `Response`. Backpressure follows the stream's queue, measured in bytes.
 */
export class WebSink implements Sink {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private closed = false;
  private drainFns: (() => void)[] = [];
  private closeFns: (() => void)[] = [];
  private readonly highWaterMark: number;

  /** @param highWaterMark bytes queued before `write` reports backpressure. Default: 64 KiB. */
  constructor(highWaterMark = WEB_HIGH_WATER_MARK, options: WebSinkOptions = {}) {
    this.highWaterMark = highWaterMark;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
          // Headers at once: Bun.serve sends a streamed response's headers only with its first chunk.
          if (options.lead !== false) controller.enqueue(streamLead());
        },
        // Called when the queue has room again or a reader waits on it (with a high-water mark of 0, the
        // only sign of room): either way the reader is taking data.
        pull: () => {
          if (this.drainFns.length) {
            const fns = this.drainFns;
            this.drainFns = [];
            for (const fn of fns) fn();
          }
        },
        cancel: () => this.markClosed(),
      },
      { highWaterMark, size: (chunk) => chunk.byteLength },
    );
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed) return true;
    try {
      this.controller.enqueue(chunk);
    } catch {
      // The stream was cancelled or errored under us: the peer is gone.
      this.markClosed();
      return true;
    }
    return (this.controller.desiredSize ?? 0) > 0;
  }

  get bufferedBytes(): number {
    if (this.closed) return 0;
    const desired = this.controller.desiredSize ?? 0;
    return Math.max(0, this.highWaterMark - desired);
  }

  onDrain(fn: () => void): void {
    this.drainFns.push(fn);
  }

  onClose(fn: () => void): void {
    if (this.closed) queueMicrotask(fn);
    else this.closeFns.push(fn);
  }

  end(): void {
    if (this.closed) return;
    try {
      this.controller.close();
    } catch {
      // Already closed by the reader.
    }
    this.markClosed();
  }

  destroy(): void {
    if (this.closed) return;
    try {
      this.controller.error(evicted());
    } catch {
      // Already closed.
    }
    this.markClosed();
  }

  /** Runs the close callbacks once, whoever closed the stream. */
  markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.drainFns = [];
    const fns = this.closeFns;
    this.closeFns = [];
    for (const fn of fns) fn();
  }
}

/**
 * The error an evicted stream ends with: erroring drops what is queued (closing would keep it for a
 * reader that stopped reading). Named and coded as a cut-off stream (`AbortError`,
 * `ERR_STREAM_PREMATURE_CLOSE`), so servers that stream the body (`@hono/node-server`, Next.js) treat
 * it as the aborted response it is rather than log it as a failure and write an error page into it.
 */
function evicted(): Error {
  return Object.assign(new Error('ssehub: stream evicted (the client stopped reading)'), { name: 'AbortError', code: 'ERR_STREAM_PREMATURE_CLOSE' });
}
