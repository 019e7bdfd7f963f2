import { EventStream } from './event-stream';
import type { SubscribeOptions } from './options';

/**
 * Opens an SSE stream on `fetch` and keeps it open: after the body ends or the network fails it
 * reconnects (after `retry` ms, or the server's `retry:`) with `Last-Event-ID`, so a hub replays
 * what it missed. A 204 stops it; another status or a wrong Content-Type stops it unless
 * `onError` answers `{ retry: true }`; `onError` can also stop it on any error with `{ closeNow: true }`.
 * @param url the stream's URL (absolute, except in a browser).
 * @param options see {@link SubscribeOptions}; defaults: `retry` 3000, `maxRetry` 30000, `highWaterMark` 100.
 * @example
 * const stream = subscribe('http://127.0.0.1:3000/events?channel=a', {
 *   headers: { Authorization: `Bearer ${token}` },
 *   onError: (err) => (err.status === 401 ? { closeNow: true } : undefined),
 * });
 * for await (const ev of stream) console.log(ev.type, ev.id, ev.data);
 */
export function subscribe(url: string | URL, options: SubscribeOptions = {}): EventStream {
  return new EventStream(url, options);
}
