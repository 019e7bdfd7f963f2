import { concatBytes, encodeComment } from '../wire/encoder';
import type { Connection } from './connection';
import type { EvictReason, HubConfig } from './options';
import type { Registry } from './registry';
import type { Counters } from './stats';

/** What delivery asks of the hub: to evict a client, or to drop one whose transport threw. */
export interface DeliveryHost {
  evict(c: Connection, reason: EvictReason): void;
  drop(c: Connection, err: unknown): void;
}

const HEARTBEAT = encodeComment();
/** What a connection has pending after a write; shared, so a write allocates nothing (queueing replaces it). */
const NO_FRAMES: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];
/** Frames larger than this are written at once rather than coalesced with the rest of the turn. */
const COALESCE_LIMIT = 64 * 1024;

/**
 * Gets frames to the transports: one write per connection per event-loop turn (a burst is coalesced,
 * and clients with the same pending frames share one buffer), backpressure (a connection whose
 * transport asked to wait queues until it drains), eviction (`timeout` x `tolerance` while
 * congested, or past `maxBufferedBytes`), and the hub-wide heartbeat. Its two timers run only while
 * they have work.
 */
export class Delivery {
  private dirty: Connection[] = [];
  private flushScheduled = false;
  private readonly congested = new Set<Connection>();
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private sweepTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly config: HubConfig,
    private readonly registry: Registry,
    private readonly host: DeliveryHost,
    private readonly counters: Counters,
  ) {}

  /** Streams whose transport asked the hub to wait, now. */
  get congestedCount(): number {
    return this.congested.size;
  }

  /** Queues a live entry for a connection, unless the replay it is getting already covers `seq`. */
  entry(c: Connection, bytes: Uint8Array, seq: number): void {
    if (seq > c.liveAfter) this.queue(c, bytes);
  }

  /** Queues a frame that is not an entry of the history (a heartbeat, a resync notice): always sent. */
  control(c: Connection, bytes: Uint8Array): void {
    this.queue(c, bytes);
  }

  private queue(c: Connection, bytes: Uint8Array): void {
    const state = c.state;
    if (state === 'closed') return;
    // Most turns queue one frame per client: a one-element array is the smallest allocation for it.
    if (c.pending.length === 0) c.pending = [bytes];
    else c.pending.push(bytes);
    c.pendingBytes += bytes.byteLength;
    if (state === 'congested') {
      if (c.pendingBytes + c.sink.bufferedBytes > this.config.maxBufferedBytes) this.host.evict(c, 'buffer');
      return;
    }
    if (state === 'preparing') {
      if (c.pendingBytes > this.config.maxBufferedBytes) this.host.evict(c, 'buffer');
      return;
    }
    if (c.pendingBytes > COALESCE_LIMIT) {
      this.write(c, undefined);
      return;
    }
    if (!c.queued) {
      c.queued = true;
      this.dirty.push(c);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(this.flush);
      }
    }
  }

  /** The prelude is ready: it goes first, then whatever live frames queued meanwhile. */
  start(c: Connection, prelude: Uint8Array[]): void {
    if (c.state !== 'preparing') return;
    c.state = 'live';
    if (prelude.length) {
      let bytes = 0;
      for (const p of prelude) bytes += p.byteLength;
      c.pending = prelude.concat(c.pending);
      c.pendingBytes += bytes;
    }
    if (c.pending.length) this.write(c, undefined);
  }

  /** Forgets a connection that is gone: nothing more is queued or written for it. */
  forget(c: Connection): void {
    c.state = 'closed';
    this.congested.delete(c);
    c.pending = NO_FRAMES;
    c.pendingBytes = 0;
    if (this.registry.size === 0) this.stopTimers();
  }

  /** Starts the heartbeat if it is not running (a connection arrived). */
  connected(): void {
    if (this.config.heartbeat <= 0 || this.heartbeatTimer) return;
    this.heartbeatTimer = setInterval(this.beat, this.config.heartbeat);
    this.heartbeatTimer.unref?.();
  }

  stopTimers(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.heartbeatTimer = this.sweepTimer = undefined;
  }

  private readonly beat = (): void => {
    // A congested client has bytes waiting already: a heartbeat would only add to them.
    for (const c of this.registry.all) if (c.state !== 'congested') this.control(c, HEARTBEAT);
  };

  /** Writes what every dirty client has pending, once per turn: a burst becomes one write per client. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    // Clients with the same pending frames (the common case: global broadcasts) share one buffer.
    const shared: SharedConcat = { frames: undefined, bytes: undefined };
    for (const c of dirty) {
      c.queued = false;
      if (c.state === 'live' && c.pending.length) this.write(c, shared);
    }
  };

  private write(c: Connection, shared: SharedConcat | undefined): void {
    const frames = c.pending;
    let bytes: Uint8Array;
    if (frames.length === 1) bytes = frames[0]!;
    else if (shared && sameFrames(frames, shared.frames)) bytes = shared.bytes!;
    else {
      bytes = concatBytes(frames, c.pendingBytes);
      if (shared) {
        shared.frames = frames;
        shared.bytes = bytes;
      }
    }
    c.pending = NO_FRAMES;
    c.pendingBytes = 0;
    this.counters.bytes += bytes.byteLength;
    let ok: boolean;
    try {
      ok = c.sink.write(bytes);
    } catch (err) {
      // A transport that throws is gone; its close handler may never run.
      this.host.drop(c, err);
      return;
    }
    if (!ok && c.state === 'live') this.congest(c);
  }

  private congest(c: Connection): void {
    c.state = 'congested';
    c.congestedSince = Date.now();
    this.congested.add(c);
    if (c.sink.bufferedBytes > this.config.maxBufferedBytes) {
      this.host.evict(c, 'buffer');
      return;
    }
    c.sink.onDrain(() => {
      if (c.state !== 'congested') return;
      c.state = 'live';
      c.failures = 0;
      this.congested.delete(c);
      if (c.pending.length) this.write(c, undefined);
    });
    if (this.config.timeout > 0 && !this.sweepTimer) {
      // One hub-wide timer checks stalled clients, and runs only while some are stalled.
      const every = Math.min(1000, Math.max(5, Math.floor(this.config.timeout / 4)));
      this.sweepTimer = setInterval(this.sweep, every);
      this.sweepTimer.unref?.();
    }
  }

  private readonly sweep = (): void => {
    const now = Date.now();
    for (const c of this.congested) {
      if (now - c.congestedSince < this.config.timeout) continue;
      c.failures++;
      c.congestedSince = now;
      if (c.failures >= this.config.tolerance) this.host.evict(c, 'timeout');
    }
    if (this.congested.size === 0 && this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  };
}

interface SharedConcat {
  frames: Uint8Array[] | undefined;
  bytes: Uint8Array | undefined;
}

function sameFrames(a: Uint8Array[], b: Uint8Array[] | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
