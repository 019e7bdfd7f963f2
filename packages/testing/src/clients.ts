import http from 'node:http';
import net from 'node:net';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { EventSource } from 'eventsource';

/** One event as a client read it. */
export interface ReadEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/** Resolves when `check()` is true, polling every few ms; rejects with `what` after `ms`. */
export async function waitUntil(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Fails the test file if any promise rejection went unhandled while it ran (a rejected write in a
 * transport, say). Call it once at the top level of a test file.
 */
export function failOnUnhandledRejections(): void {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  beforeAll(() => void process.on('unhandledRejection', onRejection));
  afterAll(() => {
    process.off('unhandledRejection', onRejection);
    expect(rejections).toEqual([]);
  });
}

/**
 * A stream read with Node's own HTTP client and eventsource-parser: it sends the headers it is
 * given (Last-Event-ID, say) and records every event, comment and retry.
 */
export class HttpStream {
  readonly events: ReadEvent[] = [];
  readonly comments: string[] = [];
  readonly retries: number[] = [];
  /** Every byte of the body, decoded. */
  raw = '';
  ended = false;
  private constructor(
    readonly res: http.IncomingMessage,
    private readonly req: http.ClientRequest,
  ) {
    const parser = createParser({
      onEvent: (e: EventSourceMessage) => this.events.push({ event: e.event ?? 'message', data: e.data, id: e.id }),
      onComment: (c) => this.comments.push(c),
      onRetry: (ms) => this.retries.push(ms),
    });
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.raw += chunk;
      parser.feed(chunk);
    });
    res.on('end', () => (this.ended = true));
    res.on('close', () => (this.ended = true));
    res.on('error', () => (this.ended = true));
  }

  /** Opens `url` and resolves once the status line and headers have arrived. */
  static open(url: string, headers: Record<string, string> = {}): Promise<HttpStream> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) =>
        resolve(new HttpStream(res, req)),
      );
      req.on('error', reject);
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  /** Waits until `n` events have arrived. */
  waitForEvents(n: number, ms = 5000): Promise<void> {
    return waitUntil(() => this.events.length >= n, `${n} events (have ${this.events.length})`, ms);
  }

  waitForEnd(ms = 5000): Promise<void> {
    return waitUntil(() => this.ended, 'the stream to end', ms);
  }

  close(): void {
    this.req.destroy();
  }
}

/**
 * The real `eventsource` client, recording every event of the listed types (and `message`).
 * It reconnects by itself with Last-Event-ID, as a browser does.
 */
export class EsClient {
  readonly es: EventSource;
  readonly events: ReadEvent[] = [];
  opens = 0;
  errors = 0;
  /** How many events had arrived at each `open`: `open` must come before the first event. */
  readonly eventsAtOpen: number[] = [];

  constructor(url: string, types: string[] = []) {
    this.es = new EventSource(url);
    const record = (e: MessageEvent) => this.events.push({ event: e.type, data: e.data, id: e.lastEventId || undefined });
    this.es.addEventListener('message', record);
    for (const t of types) this.es.addEventListener(t, record);
    this.es.addEventListener('open', () => {
      this.opens++;
      this.eventsAtOpen.push(this.events.length);
    });
    this.es.addEventListener('error', () => this.errors++);
  }

  waitForOpen(count = 1, ms = 5000): Promise<void> {
    return waitUntil(() => this.opens >= count, `open #${count}`, ms);
  }

  waitForEvents(n: number, ms = 5000): Promise<void> {
    return waitUntil(() => this.events.length >= n, `${n} events (have ${this.events.length})`, ms);
  }

  close(): void {
    this.es.close();
  }
}

/**
 * A raw TCP client: sends a GET and then reads only when told to, so it can play a client
 * that stops reading while the server keeps writing.
 */
export class RawClient {
  readonly socket: net.Socket;
  received = 0;
  text = '';
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (b: Buffer) => {
      this.received += b.length;
      if (this.text.length < 1 << 20) this.text += b.toString('latin1');
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => (this.closed = true));
  }

  static connect(port: number, path: string, headers: Record<string, string> = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Accept: text/event-stream'];
        for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
        socket.write(lines.join('\r\n') + '\r\n\r\n');
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Stops reading: the kernel buffers fill and the server's writes back up. */
  stopReading(): void {
    this.socket.pause();
    // A small receive window makes the server feel the stall after little data.
    this.socket.setNoDelay(true);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Reads a request header from Fastify's `request` (`request.headers`: lower-case names, repeated ones as arrays). */
export function fastifyHeader(request: { headers: Record<string, string | string[] | undefined> }, name: string): string | undefined {
  const v = request.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
