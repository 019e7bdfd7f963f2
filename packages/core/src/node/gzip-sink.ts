import type { ServerResponse } from 'node:http';
import type { Gzip } from 'node:zlib';
import type { Sink } from '../sink';
import { Z_SYNC_FLUSH } from '../zlib';
import { onResponseGone } from './close';
import { NODE_LEAD } from './sink';

/**
 * A sink over a Node `ServerResponse` that gzips the stream, as donovanhide/eventsource's `Gzip`:
 * every write is followed by a sync flush, so each event leaves the compressor at once instead of
 * waiting in its window. Sends `Content-Encoding: gzip` and `Vary: Accept-Encoding` with the headers.
 * Use it only for a client whose Accept-Encoding allows gzip. The caller creates the compressor
 * (`zlib.createGzip()`), so core loads `node:zlib` only when compression is used.
 */
export class GzipNodeSink implements Sink {
  private closed = false;
  private readonly res: ServerResponse;
  private readonly gzip: Gzip;
  private closeFns: (() => void)[] = [];

  constructor(res: ServerResponse, headers: Record<string, string>, gzip: Gzip) {
    this.res = res;
    res.writeHead(200, { ...headers, 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' });
    res.flushHeaders();
    // Nagle would hold small events back for up to 40 ms behind an unacknowledged one.
    res.socket?.setNoDelay(true);
    this.gzip = gzip;
    // pipe() carries backpressure from the socket back to the compressor, and ends the response after it.
    this.gzip.pipe(res);
    this.gzip.on('error', () => this.destroy());
    onResponseGone(res, () => {
      this.closed = true;
      this.gzip.destroy();
      const fns = this.closeFns;
      this.closeFns = [];
      for (const fn of fns) fn();
    });
    this.write(NODE_LEAD);
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed || this.gzip.writableEnded) return true;
    const ok = this.gzip.write(chunk);
    // Z_SYNC_FLUSH: the event leaves the compressor now, and the window (the compression) is kept.
    this.gzip.flush(Z_SYNC_FLUSH);
    return ok;
  }

  get bufferedBytes(): number {
    return this.gzip.writableLength + this.gzip.readableLength + this.res.writableLength;
  }

  onDrain(fn: () => void): void {
    this.gzip.once('drain', fn);
  }

  onClose(fn: () => void): void {
    if (this.closed) queueMicrotask(fn);
    else this.closeFns.push(fn);
  }

  end(): void {
    if (!this.gzip.writableEnded) this.gzip.end();
  }

  destroy(): void {
    this.closed = true;
    this.gzip.destroy();
    this.res.destroy();
  }
}
