/**
 * What an app broadcasts. `data` is sent as it is when it is a string, and as JSON otherwise.
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export interface Message<D = unknown> {
  /** The payload: a string goes out verbatim (line endings normalised to LF), anything else as `JSON.stringify(data)`. */
  data: D;
  /** The event type (`event:` field). Default: none, which the browser dispatches as `message`. */
  event?: string;
  /** The event id. Default: a strictly increasing id the hub assigns. */
  id?: string;
  /** Reconnection delay in ms the client should use from now on (`retry:` field). */
  retry?: number;
  /** Only connections subscribed to this channel receive it. Default: every connection. */
  channel?: string;
}

/** A message as the hub delivered it: with its id, and the client id it was addressed to, if any. */
export interface Delivered<D = unknown> extends Message<D> {
  id: string;
  /** Set when the message was sent with `broadcastTo`. */
  clientId?: string;
}
