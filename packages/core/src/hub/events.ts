import type { Client } from './connection';
import type { EvictReason, HubLogger } from './options';

/** The hub's events and their handler signatures. */
export interface HubEvents {
  /** A stream was admitted and registered (before its replay is written). */
  connect: (client: Client) => void;
  /** A stream ended, for any reason: the client left, it was evicted or ended, or the hub closed. */
  disconnect: (client: Client) => void;
  /** The hub dropped a stream that could not keep up (`timeout` or `buffer`); `disconnect` follows. */
  evict: (client: Client, reason: EvictReason) => void;
  /** Ms from a broadcast to its being handed to the recipients' transports (see `hub.on`). */
  latency: (ms: number) => void;
}

/**
 * The hub's `on`/`off` events, and its logger: a handler that throws goes to `onError` and does not
 * stop the others.
 */
export class HubEventEmitter {
  private readonly handlers: { [K in keyof HubEvents]: Set<HubEvents[K]> } = {
    connect: new Set(),
    disconnect: new Set(),
    evict: new Set(),
    latency: new Set(),
  };

  constructor(
    private readonly logger: HubLogger | undefined,
    private readonly onError: (err: unknown) => void,
  ) {}

  on<K extends keyof HubEvents>(event: K, handler: HubEvents[K]): () => void {
    this.handlers[event].add(handler);
    return () => this.off(event, handler);
  }

  off<K extends keyof HubEvents>(event: K, handler: HubEvents[K]): void {
    this.handlers[event].delete(handler);
  }

  /** True when `event` has a handler. */
  has(event: keyof HubEvents): boolean {
    return this.handlers[event].size > 0;
  }

  emit<K extends keyof HubEvents>(event: K, ...args: Parameters<HubEvents[K]>): void {
    if (this.logger && event !== 'latency') this.log(event, args[0] as Client, args[1] as EvictReason | undefined);
    for (const h of this.handlers[event]) {
      try {
        (h as (...a: unknown[]) => void)(...args);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  private log(event: keyof HubEvents, c: Client, reason: EvictReason | undefined): void {
    const details: Record<string, unknown> = { id: c.id, clientId: c.clientId, channels: [...c.channels] };
    if (event === 'evict') this.logger!.warn?.('ssehub: evicted a client that fell behind', { ...details, reason, bufferedBytes: c.bufferedBytes });
    else this.logger!.debug?.(`ssehub: ${event}`, event === 'connect' ? { ...details, lastEventId: c.lastEventId } : details);
  }
}
