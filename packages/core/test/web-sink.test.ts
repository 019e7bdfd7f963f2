import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import zlib from 'node:zlib';
import { createParser } from 'eventsource-parser';
import { createHub, type Hub } from '@ssehub/core';
import { GzipWebSink, WebSink } from '@ssehub/core/adapter';
import type { GzipStream } from '../src/zlib';

let hub: Hub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

async function firstChunk(sink: { stream: ReadableStream<Uint8Array> }): Promise<Uint8Array> {
  const reader = sink.stream.getReader();
  const { value, done } = await reader.read();
  reader.releaseLock();
  expect(done).toBe(false);
  return value!;
}

describe('WebSink', () => {
  it('carries the 2 bytes ":\\n" as its first chunk, before anything is written', async () => {
    const sink = new WebSink();
    expect(Array.from(await firstChunk(sink))).toEqual([0x3a, 0x0a]);
    // What a parser makes of it: one empty comment, no event (there is no blank line).
    const events: string[] = [];
    const comments: string[] = [];
    const parser = createParser({ onEvent: (e) => events.push(e.data), onComment: (c) => comments.push(c) });
    parser.feed(':\n');
    expect(events).toEqual([]);
    expect(comments).toEqual(['']);
  });

  it("sends the hub's bytes after the lead", async () => {
    hub = createHub({ heartbeat: 0, retry: 500 });
    const sink = new WebSink();
    hub.connect(sink);
    const id = hub.broadcast({ data: 'x' });
    const reader = sink.stream.getReader();
    let text = '';
    while (!text.includes('data: x\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toBe(`:\nretry: 500\nid: ${id}\ndata: x\n\n`);
    await reader.cancel();
  });

  it('gives every stream a lead of its own (a runtime may detach a chunk it has sent)', async () => {
    const a = await firstChunk(new WebSink());
    const b = await firstChunk(new WebSink());
    expect(a.buffer).not.toBe(b.buffer);
  });

  it('sends no lead with `lead: false`', async () => {
    const sink = new WebSink(1024, { lead: false });
    expect(sink.bufferedBytes).toBe(0);
    sink.write(new TextEncoder().encode('data: y\n\n'));
    expect(new TextDecoder().decode(await firstChunk(sink))).toBe('data: y\n\n');
  });
});

describe('GzipWebSink', () => {
  it('sends the lead compressed, at once: a gzip stream whose first bytes decompress to ":\\n"', async () => {
    const sink = new GzipWebSink(zlib.createGzip());
    const reader = sink.stream.getReader();
    const chunks: Uint8Array[] = [];
    let text = '';
    while (text !== ':\n') {
      const { value } = await reader.read();
      chunks.push(value!);
      text = zlib.gunzipSync(Buffer.concat(chunks), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString();
      expect(':\n'.startsWith(text)).toBe(true);
    }
    // The gzip magic first: the lead went through the compressor, not around it.
    expect(Array.from(chunks[0]!.subarray(0, 2))).toEqual([0x1f, 0x8b]);
    reader.releaseLock();
    sink.destroy();
  });
});

describe('WebSink, the sink contract', () => {
  const bytes = (n: number) => new Uint8Array(n);

  it('reports backpressure once the queue reaches its high-water mark, in bytes', () => {
    const sink = new WebSink(100, { lead: false });
    expect(sink.write(bytes(60))).toBe(true);
    expect(sink.bufferedBytes).toBe(60);
    expect(sink.write(bytes(39))).toBe(true);
    expect(sink.write(bytes(1))).toBe(false); // exactly 100 queued: no room left
    expect(sink.bufferedBytes).toBe(100);
    expect(sink.write(bytes(50))).toBe(false);
    expect(sink.bufferedBytes).toBe(150);
  });

  it('counts the lead and uses 64 KiB by default', () => {
    const sink = new WebSink();
    expect(sink.bufferedBytes).toBe(2);
    expect(sink.write(bytes(64 * 1024 - 3))).toBe(true);
    expect(sink.write(bytes(1))).toBe(false);
  });

  it('calls the drain callbacks once, when the reader has made room', async () => {
    const sink = new WebSink(10, { lead: false });
    sink.write(bytes(10));
    const drained: string[] = [];
    sink.onDrain(() => drained.push('a'));
    sink.onDrain(() => drained.push('b'));
    await new Promise((r) => setImmediate(r));
    expect(drained).toEqual([]); // nothing read yet
    const reader = sink.stream.getReader();
    await reader.read();
    await new Promise((r) => setImmediate(r));
    expect(drained).toEqual(['a', 'b']);
    sink.write(bytes(1));
    await reader.read();
    await new Promise((r) => setImmediate(r));
    expect(drained).toEqual(['a', 'b']);
    reader.releaseLock();
  });

  it('runs the close callbacks once when the reader cancels, and at once (a microtask) for one added later', async () => {
    const sink = new WebSink(10);
    const closed: string[] = [];
    sink.onClose(() => closed.push('a'));
    await sink.stream.cancel();
    expect(closed).toEqual(['a']);
    sink.end();
    sink.destroy();
    sink.markClosed();
    expect(closed).toEqual(['a']);
    sink.onClose(() => closed.push('late'));
    expect(closed).toEqual(['a']);
    await Promise.resolve();
    expect(closed).toEqual(['a', 'late']);
    // Writes after the close go nowhere and ask for no waiting.
    expect(sink.write(bytes(100))).toBe(true);
    expect(sink.bufferedBytes).toBe(0);
  });

  it('end() closes the stream after what is queued', async () => {
    const sink = new WebSink(1024, { lead: false });
    const closed = jest.fn();
    sink.onClose(closed);
    sink.write(new TextEncoder().encode('data: last\n\n'));
    sink.end();
    expect(closed).toHaveBeenCalledTimes(1);
    const reader = sink.stream.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: last\n\n');
    expect((await reader.read()).done).toBe(true);
  });

  it('destroy() errors the stream, dropping what is queued, as an aborted response', async () => {
    const sink = new WebSink(1024, { lead: false });
    const closed = jest.fn();
    sink.onClose(closed);
    sink.write(bytes(10));
    sink.destroy();
    expect(closed).toHaveBeenCalledTimes(1);
    const err = await sink.stream.getReader().read().then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(err).toMatchObject({ name: 'AbortError', code: 'ERR_STREAM_PREMATURE_CLOSE', message: 'ssehub: stream evicted (the client stopped reading)' });
  });

  it('drains a sink with a high-water mark of 0 when the reader asks for more', async () => {
    const sink = new WebSink(0, { lead: false });
    expect(sink.write(bytes(5))).toBe(false); // every write waits for the reader
    const drained = jest.fn();
    sink.onDrain(drained);
    const reader = sink.stream.getReader();
    await reader.read(); // takes the queued chunk
    await new Promise((r) => setImmediate(r));
    const next = reader.read(); // and waits for the next: the queue has room for one more write
    await new Promise((r) => setImmediate(r));
    expect(drained).toHaveBeenCalledTimes(1);
    sink.write(bytes(1));
    expect((await next).value).toHaveLength(1);
    reader.releaseLock();
  });

  it('leaves the stream alone once marked closed: writes, end() and destroy() do nothing to it', () => {
    const controllerOf = (s: WebSink) => (s as unknown as { controller: ReadableStreamDefaultController }).controller;
    for (const after of ['write', 'end', 'destroy'] as const) {
      const sink = new WebSink(10, { lead: false });
      sink.markClosed();
      if (after === 'write') expect(sink.write(bytes(4))).toBe(true);
      else sink[after]();
      // Still open and empty: 10 bytes of room (a closed stream has 0, an errored one null).
      expect([after, controllerOf(sink).desiredSize]).toEqual([after, 10]);
    }
  });

  it('treats a stream errored under it as closed', () => {
    const sink = new WebSink(1024, { lead: false });
    const closed = jest.fn();
    sink.onClose(closed);
    (sink as unknown as { controller: ReadableStreamDefaultController }).controller.error(new Error('gone'));
    expect(sink.write(bytes(1))).toBe(true);
    expect(closed).toHaveBeenCalledTimes(1);
    expect(sink.bufferedBytes).toBe(0);
  });
});

describe('GzipWebSink, the sink contract', () => {
  /** Decompresses what the reader got so far. */
  const gunzip = (chunks: Uint8Array[]) => zlib.gunzipSync(Buffer.concat(chunks), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString();

  it('flushes every write through the compressor, and ends with the gzip trailer', async () => {
    const sink = new GzipWebSink(zlib.createGzip());
    const reader = sink.stream.getReader();
    const chunks: Uint8Array[] = [];
    const readUntil = async (text: string) => {
      while (gunzip(chunks) !== text) chunks.push((await reader.read()).value!);
    };
    await readUntil(':\n');
    expect(sink.write(new TextEncoder().encode('data: a\n\n'))).toBe(true);
    await readUntil(':\ndata: a\n\n');
    const closed = jest.fn();
    sink.onClose(closed);
    sink.end();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    expect(zlib.gunzipSync(Buffer.concat(chunks)).toString()).toBe(':\ndata: a\n\n'); // a complete gzip stream
    expect(closed).toHaveBeenCalledTimes(1);
    expect(sink.write(new TextEncoder().encode('data: b\n\n'))).toBe(true); // after the end: dropped
  });

  it('reports backpressure when the reader does not read, and drains once it does', async () => {
    const sink = new GzipWebSink(zlib.createGzip(), 64);
    const random = () => new Uint8Array(randomBytes(200)); // incompressible
    let ok = true;
    for (let i = 0; i < 50 && ok; i++) {
      ok = sink.write(random());
      await new Promise((r) => setImmediate(r));
    }
    expect(ok).toBe(false);
    expect(sink.bufferedBytes).toBeGreaterThanOrEqual(64);
    const drained = jest.fn();
    sink.onDrain(drained);
    await new Promise((r) => setImmediate(r));
    expect(drained).not.toHaveBeenCalled();
    const reader = sink.stream.getReader();
    for (let i = 0; i < 100 && !drained.mock.calls.length; i++) {
      await reader.read();
      await new Promise((r) => setImmediate(r));
    }
    expect(drained).toHaveBeenCalledTimes(1);
    reader.releaseLock();
    sink.destroy();
  });

  it('stops compressing when the reader cancels, and calls the close callbacks once', async () => {
    const gz = zlib.createGzip();
    const sink = new GzipWebSink(gz);
    const closed = jest.fn();
    sink.onClose(closed);
    await sink.stream.cancel();
    expect(closed).toHaveBeenCalledTimes(1);
    expect(gz.destroyed).toBe(true);
    expect(sink.write(new Uint8Array(5))).toBe(true);
    const drained = jest.fn();
    sink.onDrain(drained);
    await new Promise((r) => setImmediate(r));
    expect(drained).not.toHaveBeenCalled(); // a closed stream never drains
  });

  it('markClosed() closes without a reader, and a compressor error destroys the stream', async () => {
    const gz = zlib.createGzip();
    const sink = new GzipWebSink(gz);
    const closed = jest.fn();
    sink.onClose(closed);
    sink.markClosed();
    expect(closed).toHaveBeenCalledTimes(1);
    expect(gz.destroyed).toBe(true);

    const gz2 = zlib.createGzip();
    const broken = new GzipWebSink(gz2);
    const closed2 = jest.fn();
    broken.onClose(closed2);
    gz2.emit('error', new Error('zlib failed'));
    expect(closed2).toHaveBeenCalledTimes(1);
    const err = await broken.stream.getReader().read().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.name).toBe('AbortError');
  });
});

describe('GzipWebSink, at the edges (a compressor the test drives)', () => {
  /**
   * A GzipStream that passes bytes through unchanged on flush, with the buffer sizes and drain the
   * test sets: what the sink decides from them is then exact.
   */
  class FakeGzip extends EventEmitter {
    writableLength = 0;
    readableLength = 0;
    writableEnded = false;
    writableNeedDrain = false;
    destroyed = false;
    ends = 0;
    private held: Uint8Array[] = [];
    write(chunk: Uint8Array): boolean {
      this.held.push(chunk);
      return !this.writableNeedDrain;
    }
    flush(): void {
      for (const c of this.held.splice(0)) this.emit('data', c);
    }
    /** Like zlib's, the 'end' event comes later (here: never), after the trailer is read. */
    end(): void {
      this.ends++;
      this.writableEnded = true;
    }
    destroy(): void {
      this.destroyed = true;
    }
  }
  const make = (hwm: number) => {
    const gz = new FakeGzip();
    const sink = new GzipWebSink(gz as unknown as GzipStream, hwm);
    return { gz, sink };
  };

  it('asks to wait once the reader’s queue holds exactly the high-water mark', () => {
    const { sink } = make(10); // the 2-byte lead is queued
    expect(sink.write(new Uint8Array(7))).toBe(true); // 9 queued
    expect(sink.write(new Uint8Array(1))).toBe(false); // 10: no room left
  });

  it('counts the compressor’s input and output buffers and the reader’s queue', () => {
    const { gz, sink } = make(100);
    gz.writableLength = 5;
    gz.readableLength = 7;
    expect(sink.bufferedBytes).toBe(5 + 7 + 2);
  });

  it('drains only when the compressor has drained and the reader’s queue is below the mark', async () => {
    const { gz, sink } = make(4); // the 2-byte lead is queued
    gz.writableNeedDrain = true;
    const drained = jest.fn();
    sink.onDrain(drained);
    expect(drained).not.toHaveBeenCalled();
    gz.writableNeedDrain = false;
    sink.write(new Uint8Array(2)); // the queue reaches the mark meanwhile
    gz.emit('drain');
    expect(drained).not.toHaveBeenCalled();
    const reader = sink.stream.getReader();
    await reader.read();
    await new Promise((r) => setImmediate(r));
    expect(drained).toHaveBeenCalledTimes(1);
    reader.releaseLock();
  });

  it('ends the compressor once, and not after the reader left', () => {
    const { gz, sink } = make(100);
    sink.end();
    sink.end();
    expect(gz.ends).toBe(1);
    const other = make(100);
    other.gz.writableEnded = false;
    void other.sink.stream.cancel();
    other.sink.end();
    expect(other.gz.ends).toBe(0);
  });
});
