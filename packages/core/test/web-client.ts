import { createParser } from 'eventsource-parser';
import { type ConnectParams, type Hub, type Client } from '@ssehub/core';
import { WebSink } from '@ssehub/core/adapter';

export interface Received {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * A client on a real WebSink: the hub writes into a Web ReadableStream, this reads it back with
 * eventsource-parser, as a fetch-based client would.
 */
export class WebClient {
  readonly events: Received[] = [];
  readonly retries: number[] = [];
  readonly comments: string[] = [];
  raw = '';
  done = false;
  readonly client: Client;
  readonly sink: WebSink;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(hub: Hub, params: ConnectParams = {}, { read = true } = {}) {
    this.sink = new WebSink();
    this.client = hub.connect(this.sink, params);
    this.reader = this.sink.stream.getReader();
    if (read) void this.pump();
  }

  /** Starts reading a client created with `read: false`. */
  startReading(): void {
    void this.pump();
  }

  private async pump(): Promise<void> {
    const parser = createParser({
      onEvent: (e) => this.events.push({ event: e.event ?? 'message', data: e.data, id: e.id }),
      onRetry: (r) => this.retries.push(r),
      onComment: (c) => this.comments.push(c),
    });
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        this.raw += text;
        parser.feed(text);
      }
    } catch {
      // Errored by an eviction.
    }
    this.done = true;
  }

  /** Lets pending microtasks and stream reads run. */
  async settle(): Promise<void> {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  }

  data(): string[] {
    return this.events.map((e) => e.data);
  }

  async cancel(): Promise<void> {
    await this.reader.cancel();
  }
}
