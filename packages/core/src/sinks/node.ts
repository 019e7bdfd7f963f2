import type { ServerResponse } from 'node:http';
import type { Sink } from '../sink';

/** A `ServerResponse` as some middleware leaves it: `compression` adds `flush()`. */
type FlushableResponse = ServerResponse & { flush?: () => void };

/**
 * A sink over a Node `http.ServerResponse` (Express, Koa, `@hono/node-server`, plain `node:http`).
 * Sends the status and headers at once, so the client's `open` fires before the first event.
 */
export class NodeSink implements Sink {
  private closed = false;
  private readonly res: FlushableResponse;

  constructor(res: ServerResponse, headers: Record<string, string>) {
    this.res = res;
    res.writeHead(200, headers);
    res.flushHeaders();
    // Nagle would hold small events back for up to 40 ms behind an unacknowledged one.
    res.socket?.setNoDelay(true);
    res.once('close', () => {
      this.closed = true;
    });
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed || this.res.writableEnded) return true;
    const ok = this.res.write(chunk);
    // `compression` buffers unless flushed; call it only where it exists.
    if (typeof this.res.flush === 'function') this.res.flush();
    return ok;
  }

  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  onDrain(fn: () => void): void {
    this.res.once('drain', fn);
  }

  onClose(fn: () => void): void {
    if (this.closed) queueMicrotask(fn);
    else this.res.once('close', fn);
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }

  destroy(): void {
    this.closed = true;
    this.res.destroy();
  }
}
