import {
  sharedChannels,
  toDelivered,
  toRecord,
  type Backplane,
  type BackplaneEntry,
  type BackplaneReplay,
  type BackplaneState,
} from '../backplane';
import type { Message } from '../message';
import { dataText, encodeEvent } from '../wire/encoder';
import { UNTIL_REPLAYED, type Connection } from './connection';
import type { Entry, History } from './history';
import type { IdSource } from './ids';
import type { HubConfig } from './options';
import { mayReceive } from './registry';
import type { GapReason, Replay } from './replay';
import type { Counters } from './stats';

/** What the shared log needs of its hub. */
export interface SharedLogHost {
  readonly config: HubConfig;
  readonly history: History;
  readonly ids: IdSource;
  readonly replay: Replay;
  readonly counters: Counters;
  /** Open streams now, each told when the log loses history. */
  readonly size: number;
  /** Keeps an entry and hands it to its recipients, as for a broadcast of this hub. */
  fanOut(entry: Entry): void;
  /** Queues a frame that is not an entry (a resync notice) for every open connection. */
  tellEveryone(frame: Uint8Array): void;
  /** Writes a connection's prelude and lets live entries through. */
  start(c: Connection, prelude: Uint8Array[]): void;
  readonly closed: boolean;
}

/** How long a shared replay waits for this hub to reach the position a client already saw. */
const POS_WAIT_MS = 10_000;

/** Entries one shared replay may collect while it waits; past it the replay becomes a gap. */
const MAX_TAP = 100_000;

interface TapItem {
  readonly pos: number | undefined;
  readonly entry: Entry;
}

interface PosWaiter {
  readonly pos: number;
  readonly resets: number;
  timer: ReturnType<typeof setTimeout>;
  wake: () => void;
}

/**
 * The hub's side of a backplane: it shares this hub's broadcasts, applies the shared log's entries in
 * the global order, drops the local cache when the log loses history, and replays a client from the
 * shared history when the local cache does not hold its id.
 */
export class SharedLog {
  /** Position in the backplane's global sequence of the last entry applied here. */
  pos = 0;
  /** Times the shared log lost history; a replay that started before one cannot be trusted. */
  resets = 0;
  state: BackplaneState = 'connecting';
  /** `Date.now()` when the current outage began. */
  private outageSince: number | undefined;
  private readonly waiters = new Set<PosWaiter>();
  /** Shared replays in progress, each collecting what this hub applies meanwhile. */
  readonly taps = new Set<TapItem[]>();

  constructor(
    readonly backplane: Backplane,
    readonly host: SharedLogHost,
  ) {
    backplane.attach({
      deliver: (e) => this.apply(e),
      advance: (pos) => this.advance(pos),
      reset: (reason, pos) => this.reset(reason, pos),
      error: (err) => host.config.onError(err),
      state: (state, detail) => this.changed(state, detail),
    });
  }

  /** Hands a broadcast to the backplane; it is delivered here too when it comes back, in global order. */
  share(message: Message, to: string | undefined): string {
    const record = toRecord(message, to, this.host.ids.uid(), dataText(message.data));
    this.backplane.publish(record);
    return record.id;
  }

  /** Replays a registered connection from the shared history (see {@link SharedReplay}). */
  replay(c: Connection, lastEventId: string | undefined, prelude: Uint8Array[]): void {
    new SharedReplay(this, c, lastEventId, prelude).read(lastEventId, this.pos);
  }

  /** Calls `then(true)` once this hub has applied position `pos`, `then(false)` after a reset or a timeout. */
  waitForPos(pos: number, resets: number, then: (ok: boolean) => void): void {
    const w: PosWaiter = {
      pos,
      resets,
      timer: setTimeout(() => settle(false), POS_WAIT_MS),
      wake: () => settle(this.resets === resets),
    };
    const settle = (ok: boolean) => {
      if (!this.waiters.delete(w)) return;
      clearTimeout(w.timer);
      then(ok);
    };
    w.timer.unref?.();
    this.waiters.add(w);
    if (this.pos >= pos) w.wake();
  }

  /** How long the current outage has lasted (catching up counts as still out); 0 when there is none. */
  outageMs(): number {
    return this.outageSince === undefined ? 0 : Date.now() - this.outageSince;
  }

  async close(): Promise<void> {
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters.clear();
    await this.backplane.close();
  }

  private apply(e: BackplaneEntry): void {
    if (this.host.closed) return;
    if (e.pos !== undefined) this.pos = e.pos;
    // `data` is already the wire text, so every hub encodes the bytes the publishing hub would have.
    const bytes = encodeEvent({ data: e.data, event: e.event, retry: e.retry }, e.id);
    const entry: Entry = { seq: this.host.ids.next(), id: e.id, bytes, channels: sharedChannels(e.channel), to: e.to, message: toDelivered(e) };
    this.host.fanOut(entry);
    if (this.taps.size) for (const t of this.taps) if (t.length <= MAX_TAP) t.push({ pos: e.pos, entry });
    if (this.waiters.size) this.wake();
  }

  private advance(pos: number): void {
    this.pos = pos;
    if (this.waiters.size) this.wake();
  }

  /** The shared log lost history: drop the local cache and tell every client to resync. */
  private reset(reason: string, pos: number): void {
    if (this.host.closed) return;
    this.resets++;
    this.pos = pos;
    this.host.history.clear();
    this.host.counters.gap(`backplane-${reason}`, this.host.size);
    this.host.tellEveryone(this.host.replay.resyncFrame(null, `backplane-${reason}`));
    this.wake();
  }

  private changed(state: BackplaneState, detail: { error?: unknown; outbox?: number } = {}): void {
    const was = this.state;
    if (state === was) return;
    this.state = state;
    if (state === 'outage') this.outageSince ??= Date.now();
    else if (state === 'connected') this.outageSince = undefined;
    const logger = this.host.config.logger;
    if (state === 'outage') logger?.warn?.('ssehub: backplane unreachable; broadcasts wait until it returns', { ...detail, was });
    else logger?.info?.(`ssehub: backplane ${state}`, { ...detail, was });
  }

  private wake(): void {
    for (const w of this.waiters) if (this.pos >= w.pos || this.resets !== w.resets) w.wake();
  }
}

/**
 * One client's replay from the shared history. Nothing live is queued for the client meanwhile
 * (`liveAfter` is {@link UNTIL_REPLAYED}); what this hub applies while the backplane answers is
 * collected in a tap. The replay reads pages up to the position this hub has applied, adds the tap's
 * entries past that position, and only then lets live entries through: no gap, no duplicate. A
 * client that saw more than this hub has applied waits until this hub gets there.
 */
class SharedReplay {
  private readonly tap: TapItem[] = [];
  private readonly resets: number;

  constructor(
    private readonly log: SharedLog,
    private readonly c: Connection,
    private readonly lastEventId: string | undefined,
    private readonly prelude: Uint8Array[],
  ) {
    c.liveAfter = UNTIL_REPLAYED;
    this.resets = log.resets;
    log.taps.add(this.tap);
  }

  /** Reads the shared history after `after` up to position `upTo`. */
  read(after: string | number | undefined, upTo: number): void {
    this.log.backplane.replay(after, upTo).then(
      (r) => this.page(r, upTo),
      (err: unknown) => {
        this.log.host.config.onError(err);
        this.gap('unavailable');
      },
    );
  }

  private get gone(): boolean {
    return this.c.closed || this.log.host.closed;
  }

  private page(r: BackplaneReplay, upTo: number): void {
    if (this.gone) return this.stop();
    if (this.log.resets !== this.resets) return this.gap('expired');
    if (r.kind === 'gap') return this.gap(r.reason);
    for (const e of r.entries) {
      if (mayReceive(this.c, e.to, sharedChannels(e.channel))) {
        this.prelude.push(encodeEvent({ data: e.data, event: e.event, retry: e.retry }, e.id));
        this.log.host.counters.replayed++;
      }
    }
    if (r.from <= upTo) return this.finish(upTo);
    // The client saw more than this hub had applied: once this hub gets there, read on from there.
    this.log.waitForPos(r.from, this.resets, (ok) => {
      if (this.gone) this.stop();
      else if (ok) this.read(r.from, this.log.pos);
      else this.gap('unavailable');
    });
  }

  /** The replay reached `upTo`: add what this hub applied after it, then go live. */
  private finish(upTo: number): void {
    this.stop();
    if (this.tap.length > MAX_TAP) return this.gap('unavailable');
    for (const t of this.tap) {
      if ((t.pos === undefined || t.pos > upTo) && mayReceive(this.c, t.entry.to, t.entry.channels)) this.prelude.push(t.entry.bytes);
    }
    this.goLive();
  }

  private gap(reason: GapReason): void {
    this.stop();
    if (this.gone) return;
    const { lastEventId, c, prelude } = this;
    if (lastEventId === undefined) {
      // A full replay the shared history could not serve: this hub's cache instead, which also holds
      // what was applied meanwhile (live entries were not queued for the client while it waited).
      for (const e of this.log.host.history.after(0)) {
        if (mayReceive(c, e.to, e.channels)) {
          prelude.push(e.bytes);
          this.log.host.counters.replayed++;
        }
      }
      return this.goLive();
    }
    c.liveAfter = this.log.host.ids.seq;
    this.log.host.replay.fillGap(c, lastEventId, reason, prelude, () => this.log.host.start(c, prelude));
  }

  private goLive(): void {
    // Everything applied so far is in the prelude; entries from here on are queued live.
    this.c.liveAfter = this.log.host.ids.seq;
    this.log.host.start(this.c, this.prelude);
  }

  private stop(): void {
    this.log.taps.delete(this.tap);
  }
}
