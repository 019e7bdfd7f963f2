import zlib from 'node:zlib';
import { createParser } from 'eventsource-parser';
import { createHub, type Hub } from '@ssehub/core';
import { GzipWebSink, WebSink } from '@ssehub/core/adapter';

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
