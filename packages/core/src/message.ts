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
  /**
   * Only connections subscribed to this channel receive it; with several channels, a connection
   * subscribed to any of them receives it, once (donovanhide's `Publish(channels, ev)`).
   * Default: every connection.
   */
  channel?: string | readonly string[];
}

/** A message as the hub delivered it: with its id, and the client id it was addressed to, if any. */
export interface Delivered<D = unknown> extends Message<D> {
  id: string;
  /** Set when the message was sent with `broadcastTo`. */
  clientId?: string;
}

/**
 * A map from event type to the type of its `data`, for `createHub<Events>()`:
 * `{ price: { symbol: string; px: number }; note: string }`. The key `message` types messages sent
 * with no `event` (the browser dispatches those as `message`).
 */
export type EventMap = object;

/**
 * The event map of a hub created with no map: any event type, any payload. It is `any` so that a
 * typed `Hub<Events>` is still a `Hub` wherever one is taken (the adapters' `sse(hub)`, say).
 */
export type UntypedEvents = any;

/**
 * What `broadcast` and `broadcastTo` accept on a hub typed with `Events`: a message whose `event`
 * names one of the map's keys and whose `data` has that key's type. With no map (the default,
 * {@link UntypedEvents}) it is a plain {@link Message}.
 */
export type HubMessage<Events extends EventMap = UntypedEvents> = string extends keyof Events
  ? Message
  : {
      [K in keyof Events & string]: K extends 'message'
        ? Omit<Message<Events[K]>, 'event'> & { event?: K }
        : Omit<Message<Events[K]>, 'event'> & { event: K };
    }[keyof Events & string];
