import type { Sink } from '../sink';
import { Z_SYNC_FLUSH, type GzipStream } from '../zlib';
import { WEB_HIGH_WATER_MARK, WebSink, streamLead } from './sink';

/**
 * A {@link WebSink} whose bytes pass through a gzip compressor first, with a sync flush after every
 * write, so each event reaches the reader at once. For Web-stream adapters (Hono) on runtimes that
 * have `node:zlib` (Node, Bun, Deno); the caller creates the compressor. Hand {@link GzipWebSink.stream}
 * to a `Response` with `Content-Encoding: gzip`.
 */
export class GzipWebSink implements Sink {
  private readonly inner: WebSink;
  private readonly gzip: GzipStream;
  private closed = false;
  private readonly highWaterMark: number;

  /** @param highWaterMark compressed bytes queued before `write` reports backpressure. Default: 64 KiB. */
  constructor(gzip: GzipStream, highWaterMark = WEB_HIGH_WATER_MARK) {
    this.gzip = gzip;
    this.highWaterMark = highWaterMark;
    // The inner stream carries gzip bytes only: the lead goes through the compressor below.
    this.inner = new WebSink(highWaterMark, { lead: false });
    gzip.on('data', (b: Uint8Array) => this.inner.write(b));
    gzip.on('end', () => this.inner.end());
    gzip.on('error', () => this.destroy());
    this.inner.onClose(() => {
      this.closed = true;
      // The reader is gone: nothing more needs compressing.
      if (!gzip.destroyed && !gzip.writableEnded) gzip.destroy();
    });
    // Headers at once (Bun sends them with the body's first chunk): the lead, compressed and flushed.
    gzip.write(streamLead());
    gzip.flush(Z_SYNC_FLUSH);
  }

  /** The compressed body. */
  get stream(): ReadableStream<Uint8Array> {
    return this.inner.stream;
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed || this.gzip.writableEnded) return true;
    const ok = this.gzip.write(chunk);
    this.gzip.flush(Z_SYNC_FLUSH);
    return ok && this.inner.bufferedBytes < this.highWaterMark;
  }

  get bufferedBytes(): number {
    return this.gzip.writableLength + this.gzip.readableLength + this.inner.bufferedBytes;
  }

  onDrain(fn: () => void): void {
    // Room is needed at both ends: the compressor's input and the reader's queue.
    const check = () => {
      if (this.closed) return;
      if (this.gzip.writableNeedDrain) this.gzip.once('drain', check);
      else if (this.inner.bufferedBytes >= this.highWaterMark) this.inner.onDrain(check);
      else fn();
    };
    check();
  }

  onClose(fn: () => void): void {
    this.inner.onClose(fn);
  }

  /** Ends the stream after the compressor's trailer. */
  end(): void {
    if (this.closed || this.gzip.writableEnded) return;
    this.gzip.end();
  }

  destroy(): void {
    this.gzip.destroy();
    this.inner.destroy();
  }

  /** Marks the stream closed (the request was aborted before it started). */
  markClosed(): void {
    this.gzip.destroy();
    this.inner.markClosed();
  }
}
