import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { backoffDelay } from './backoff';
import type { SseEvent } from './event';
import { EventQueue } from './event-queue';
import type { StreamErrorResult, StreamLogger, SubscribeOptions } from './options';
import { parseRetryAfter, StreamError } from './stream-error';

/** `'connecting'` (a request is under way, or the stream waits to reconnect), `'open'` or `'closed'` (for good). */
export type ReadyState = 'connecting' | 'open' | 'closed';

/** The stream's own events and their listeners. */
export interface StreamEvents {
  /** A 200 `text/event-stream` answer arrived (on every reconnect too). */
  open: () => void;
  /** An event arrived, whatever its type. */
  event: (event: SseEvent) => void;
  /** A network error or a bad response, also handed to `onError`. */
  error: (error: StreamError) => void;
  /** The stream stopped for good: `error` is what stopped it, undefined after `close()` or a 204. */
  close: (error: StreamError | undefined) => void;
}

type Listeners = { [K in keyof StreamEvents]: Set<StreamEvents[K]> };

const DEFAULT_RETRY = 3000;
const DEFAULT_MAX_RETRY = 30_000;
const DEFAULT_HIGH_WATER_MARK = 100;

/** What one connection attempt ended with. */
type Outcome = 'reconnect' | 'retry' | 'stop';

/**
 * One SSE subscription that survives disconnects: it reads events, reconnects with `Last-Event-ID`
 * after the body ends or the network fails, and stops on `close()`, a 204, or an error its
 * `onError` (or the spec) says is final. Iterate it with `for await`, or listen with `on()`.
 * Create one with {@link subscribe}; it starts connecting at once.
 */
export class EventStream implements AsyncIterable<SseEvent> {
  /** The URL the stream reads. */
  readonly url: string;
  /**
   * Settles when the stream has stopped for good and its last request has settled, with the
   * {@link StreamError} that stopped it, or undefined after `close()` or a 204.
   */
  readonly closed: Promise<StreamError | undefined>;

  private state: ReadyState = 'connecting';
  private lastId: string;
  private retryMs: number;
  private readonly maxRetry: number;
  private readonly highWaterMark: number;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: typeof fetch;
  private readonly onError: SubscribeOptions['onError'];
  private readonly logger: StreamLogger | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly readTimeout: number;
  /** The current request's controller: close() and the read timeout abort it. */
  private request: AbortController | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** The read timeout, not close(), aborted the current request. */
  private timedOut = false;
  private readonly queues = new Set<EventQueue>();
  private readonly listeners: Listeners = { open: new Set(), event: new Set(), error: new Set(), close: new Set() };
  /** Failed attempts since the last open: drives the backoff. */
  private failures = 0;
  private stopError: StreamError | undefined;
  /** The server's `Retry-After` from the last failed attempt, in ms (0 when none). */
  private retryAfter = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | undefined;
  private roomMade: (() => void) | undefined;
  private readonly onSignalAbort = () => this.close();

  /**
   * Use {@link subscribe}.
   * @throws TypeError for a negative or non-finite `retry`, `maxRetry` or `readTimeout`, or a `highWaterMark` below 1.
   */
  constructor(url: string | URL, options: SubscribeOptions = {}) {
    this.url = String(url);
    this.lastId = options.lastEventId ?? '';
    this.retryMs = checkMs('retry', options.retry ?? DEFAULT_RETRY);
    this.maxRetry = checkMs('maxRetry', options.maxRetry ?? DEFAULT_MAX_RETRY);
    this.readTimeout = checkMs('readTimeout', options.readTimeout ?? 0);
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    if (!Number.isInteger(this.highWaterMark) || this.highWaterMark < 1) {
      throw new TypeError('ssehub client: highWaterMark must be a positive integer');
    }
    this.headers = { ...options.headers };
    // Called through a wrapper: a browser's fetch throws "Illegal invocation" when detached from window.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.onError = options.onError;
    this.logger = options.logger;
    this.signal = options.signal;
    this.signal?.addEventListener('abort', this.onSignalAbort);
    if (this.signal?.aborted) this.close();
    this.closed = this.run().catch((cause: unknown) => {
      // Not expected (every step catches its own errors), but a stream must never reject unobserved.
      const error = new StreamError(`ssehub client: ${messageOf(cause)}`, { kind: 'network', url: this.url, cause });
      this.logger?.warn('ssehub client: stream stopped on an unexpected error', cause);
      this.finish(error);
      return error;
    });
  }

  /** The stream's state; see {@link ReadyState}. */
  get readyState(): ReadyState {
    return this.state;
  }

  /** The last event id read (or given as `lastEventId`); `''` when none. Sent as `Last-Event-ID` on reconnect when not empty. */
  get lastEventId(): string {
    return this.lastId;
  }

  /** The reconnect delay in ms now in force: the `retry` option until the server sends `retry:`. */
  get retry(): number {
    return this.retryMs;
  }

  /**
   * Adds a listener. A listener that throws is reported to `logger` and does not stop the stream.
   * @returns a function that removes it.
   */
  on<K extends keyof StreamEvents>(type: K, listener: StreamEvents[K]): () => void {
    this.listeners[type].add(listener);
    return () => this.off(type, listener);
  }

  /** Removes a listener added with {@link EventStream.on}. */
  off<K extends keyof StreamEvents>(type: K, listener: StreamEvents[K]): void {
    this.listeners[type].delete(listener);
  }

  /**
   * The events from now on. Events read while no iterator exists go to listeners only, so start
   * the loop right after `subscribe()`. Leaving the loop early (break, throw) closes the stream, as
   * leaving a `ReadableStream`'s loop cancels it. The loop ends when the stream closes.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<SseEvent> {
    const queue = new EventQueue(
      () => this.checkRoom(),
      (q) => {
        this.queues.delete(q);
        this.close();
      },
    );
    if (this.state === 'closed') queue.end();
    else this.queues.add(queue);
    return queue;
  }

  /** Stops for good: aborts the request, cancels a pending reconnect, ends every iterator. Safe to call more than once. */
  close(): void {
    this.finish(undefined);
  }

  private finish(error: StreamError | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopError = error;
    this.request?.abort();
    this.disarmIdle();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.wake?.();
    this.roomMade?.();
    this.signal?.removeEventListener('abort', this.onSignalAbort);
    for (const q of this.queues) q.end();
    this.queues.clear();
    this.emit('close', error);
  }

  /** Connects, reads, waits, reconnects, until closed. */
  private async run(): Promise<StreamError | undefined> {
    while (!this.isClosed()) {
      const outcome = await this.connect();
      if (outcome === 'stop' || this.isClosed()) break;
      // As EventSource: CONNECTING from the moment the stream is lost until the next one opens.
      this.state = 'connecting';
      const delay = backoffDelay(this.failures, this.retryMs, this.maxRetry);
      await this.sleep(outcome === 'retry' ? Math.max(delay, this.retryAfter) : delay);
    }
    return this.stopError;
  }

  /** One request: answers the response, then reads the body to its end. */
  private async connect(): Promise<Outcome> {
    this.state = 'connecting';
    this.retryAfter = 0;
    const headers: Record<string, string> = { ...this.headers, Accept: 'text/event-stream' };
    if (this.lastId !== '') headers['Last-Event-ID'] = utf8ByteString(this.lastId);
    const request = new AbortController();
    this.request = request;
    this.timedOut = false;
    this.armIdle();
    let res: Response;
    try {
      res = await this.fetchImpl(this.url, { headers, signal: request.signal });
    } catch (cause) {
      this.disarmIdle();
      if (this.isClosed()) return 'stop';
      return this.fail(new StreamError(`ssehub client: request failed: ${this.reasonOf(cause)}`, { kind: 'network', url: this.url, cause }));
    }
    if (this.isClosed()) return discard(res, 'stop');
    if (res.status === 204) {
      // The spec's way for a server to say "stop": no error, no reconnect.
      this.finish(undefined);
      return discard(res, 'stop');
    }
    const type = res.headers.get('content-type') ?? '';
    if (res.status !== 200 || !/^text\/event-stream\s*(;|$)/i.test(type)) {
      this.disarmIdle();
      const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
      const error =
        res.status !== 200
          ? new StreamError(`ssehub client: status ${res.status}`, { kind: 'status', url: this.url, status: res.status, retryAfter })
          : new StreamError(`ssehub client: Content-Type ${type || '(none)'} is not text/event-stream`, {
              kind: 'content-type',
              url: this.url,
              status: res.status,
            });
      await discard(res, undefined);
      if (this.isClosed()) return 'stop';
      this.retryAfter = retryAfter ?? 0;
      return this.fail(error);
    }
    const refused = res.headers.get('x-ssehub-refused');
    if (refused) {
      // A hub that cannot take us now says so on a stream EventSource would survive: come back later.
      this.disarmIdle();
      const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
      await discard(res, undefined);
      if (this.isClosed()) return 'stop';
      this.retryAfter = retryAfter ?? 0;
      return this.fail(
        new StreamError(`ssehub client: refused (${refused})`, { kind: 'refused', url: this.url, status: res.status, retryAfter, reason: refused }),
      );
    }
    if (!res.body) {
      this.disarmIdle();
      return this.fail(new StreamError('ssehub client: response has no body', { kind: 'network', url: this.url }));
    }
    this.state = 'open';
    this.failures = 0;
    this.emit('open');
    return this.read(res.body);
  }

  /** Reads one body to its end, feeding the parser; pauses while an iterator is full. */
  private async read(body: ReadableStream<Uint8Array>): Promise<Outcome> {
    const reader = body.getReader();
    // Stream mode keeps a multibyte character split across chunks whole.
    const decoder = new TextDecoder();
    // A parser per connection: an event left unfinished when a body ends is discarded, as the spec says.
    const parser = createParser({
      onEvent: (m) => this.dispatch(m),
      onRetry: (ms) => (this.retryMs = ms),
    });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.isClosed()) break;
        this.armIdle();
        parser.feed(decoder.decode(value, { stream: true }));
        if (this.isFull()) {
          // Our own pause is not the server's silence: no read timeout while an iterator is full.
          this.disarmIdle();
          await new Promise<void>((resolve) => (this.roomMade = resolve));
          this.armIdle();
        }
        if (this.isClosed()) break;
      }
    } catch (cause) {
      if (this.isClosed()) return 'stop';
      return this.fail(new StreamError(`ssehub client: stream broke: ${this.reasonOf(cause)}`, { kind: 'network', url: this.url, cause }));
    } finally {
      this.disarmIdle();
      if (this.isClosed()) await reader.cancel().catch(() => undefined);
    }
    return this.isClosed() ? 'stop' : 'reconnect';
  }

  private dispatch(m: EventSourceMessage): void {
    if (this.state === 'closed') return;
    // An empty id: resets the last id; the parser already dropped ids holding NUL.
    if (m.id !== undefined) this.lastId = m.id;
    const event: SseEvent = { type: m.event ?? 'message', data: m.data, id: m.id, lastEventId: this.lastId };
    for (const q of this.queues) q.push(event);
    this.emit('event', event);
  }

  /** Reports an error, asks `onError`, and either counts a failure (retry) or stops. */
  private fail(error: StreamError): Outcome {
    this.emit('error', error);
    let verdict: StreamErrorResult | void = undefined;
    if (this.onError) {
      try {
        verdict = this.onError(error);
      } catch (err) {
        this.logger?.warn('ssehub client: onError threw', err);
      }
    }
    if (this.isClosed()) return 'stop';
    const retry = verdict?.closeNow ? false : (verdict?.retry ?? (error.kind === 'network' || error.kind === 'refused'));
    if (!retry) {
      this.finish(error);
      return 'stop';
    }
    this.failures++;
    return 'retry';
  }

  private isFull(): boolean {
    for (const q of this.queues) if (q.size >= this.highWaterMark) return true;
    return false;
  }

  /** An iterator took an event: resume reading once every queue is below the mark. */
  private checkRoom(): void {
    if (this.roomMade && !this.isFull()) {
      const resume = this.roomMade;
      this.roomMade = undefined;
      resume();
    }
  }

  /** (Re)starts the read timeout of the current request, when one is set. */
  private armIdle(): void {
    if (this.readTimeout === 0) return;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    const request = this.request;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      this.timedOut = true;
      request?.abort();
    }, this.readTimeout);
  }

  private disarmIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private reasonOf(cause: unknown): string {
    return this.timedOut ? `nothing received for ${this.readTimeout} ms` : messageOf(cause);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.wake?.();
      }, ms);
    });
  }

  /** A method, so TypeScript does not narrow `state` across the awaits that change it. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private emit<K extends keyof StreamEvents>(type: K, ...args: Parameters<StreamEvents[K]>): void {
    for (const listener of this.listeners[type]) {
      try {
        (listener as (...a: Parameters<StreamEvents[K]>) => void)(...args);
      } catch (err) {
        this.logger?.warn(`ssehub client: a '${type}' listener threw`, err);
      }
    }
  }
}

function checkMs(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`ssehub client: ${name} must be a non-negative number of ms`);
  return value;
}

/** Frees the connection of a response we will not read. */
async function discard<T>(res: Response, result: T): Promise<T> {
  await res.body?.cancel().catch(() => undefined);
  return result;
}

/**
 * A header value holding the id's UTF-8 bytes, one char per byte: fetch takes only chars up to
 * U+00FF, and a browser's EventSource sends a non-ASCII id as UTF-8 (the hub decodes it so).
 */
function utf8ByteString(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(value)) return value;
  let out = '';
  for (const byte of new TextEncoder().encode(value)) out += String.fromCharCode(byte);
  return out;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) {
    // Node's fetch says only "fetch failed"; the reason (ECONNREFUSED...) is in its cause.
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
