/** One event as the stream read it. */
export interface SseEvent {
  /** The `event:` field; `'message'` when the event had none. */
  readonly type: string;
  /** The data lines joined with LF (the trailing LF stripped). */
  readonly data: string;
  /** This event's own `id:` field; undefined when it carried none (`''` for an empty `id:`). */
  readonly id: string | undefined;
  /** The stream's last event id once this event was read: what a browser's `MessageEvent.lastEventId` holds. */
  readonly lastEventId: string;
}
