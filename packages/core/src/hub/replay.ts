import type { Message } from '../message';
import { encodeEvent, encodeIdOnly } from '../wire/encoder';
import { validateMessage, type MessageLimits } from '../wire/validate';
import type { Connection } from './connection';
import type { Entry, History } from './history';
import type { IdSource } from './ids';
import type { HubConfig } from './options';
import { mayReceive } from './registry';
import type { Counters } from './stats';

/** Why a client's Last-Event-ID could not be honoured from the history. */
export type GapReason = 'unknown-id' | 'expired' | 'restart' | 'unavailable' | `backplane-${string}`;

/** What a client that sent a Last-Event-ID (or none) gets before live events. */
export type ReplayPlan =
  | { kind: 'live' }
  /** `restart`: the client's id is from an earlier process; these are all this process published. */
  | { kind: 'replay'; entries: Entry[]; restart?: boolean }
  | { kind: 'gap'; reason: 'unknown-id' | 'expired' | 'restart' };

/**
 * Decides and builds what a connecting client gets before live events, from this hub's history:
 * the `retry:` line, the entries after its Last-Event-ID, or for a gap the history cannot fill
 * `initMessages` (when given) or one resync event. Gaps are said, never papered over.
 */
export class Replay {
  private readonly limits: MessageLimits;

  constructor(
    private readonly config: HubConfig,
    private readonly history: History,
    private readonly ids: IdSource,
    /** The id of the newest entry, the head a gap moves the client to. */
    private readonly head: () => string | undefined,
    private readonly counters: Counters,
  ) {
    this.limits = { maxIdLength: config.maxIdLength };
  }

  /** Decides what a client that sent `lastEventId` gets from the local history. */
  plan(lastEventId: string | undefined): ReplayPlan {
    const { history } = this;
    const shared = this.config.backplane !== undefined;
    if (lastEventId === undefined) {
      // With a backplane a full replay comes from the shared history (the hub asks it), not from this cache.
      return this.config.replayAll && history.size && !shared ? { kind: 'replay', entries: history.after(0) } : { kind: 'live' };
    }
    if (!this.validId(lastEventId)) return { kind: 'gap', reason: 'unknown-id' };
    // With a backplane the head id alone proves nothing: a reset may have moved this hub past entries
    // it never applied. The cache (which holds the head until a reset) or the shared history decides.
    if (lastEventId === this.head() && !shared) return { kind: 'live' };
    const seq = history.seqOf(lastEventId);
    if (seq !== undefined) return { kind: 'replay', entries: history.after(seq) };
    const origin = this.ids.originOf(lastEventId);
    if (origin === 'earlier' && !this.config.backplane) {
      // An earlier process's id: what this process published is all it can give, and it can give all
      // of it while nothing has fallen off the history.
      if (this.config.initMessages) return { kind: 'gap', reason: 'restart' };
      return history.complete ? { kind: 'replay', entries: history.after(0), restart: true } : { kind: 'gap', reason: 'expired' };
    }
    return { kind: 'gap', reason: origin === 'ours' ? 'expired' : 'unknown-id' };
  }

  /** The first bytes of a stream: the `retry:` line, then what a replay plan gives this client. */
  prelude(c: Connection, plan: ReplayPlan): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.config.retryLine) out.push(this.config.retryLine);
    if (plan.kind === 'replay') {
      // No id on the signal: a client that drops during this replay comes back with its old id and gets it again.
      if (plan.restart) out.push(this.resyncFrame(c.lastEventId!, 'restart', false));
      const before = out.length;
      for (const e of plan.entries) if (mayReceive(c, e.to, e.channels)) out.push(e.bytes);
      this.counters.replayed += out.length - before;
    }
    return out;
  }

  /** A Last-Event-ID the hub could have issued: not too long, no line break or NUL. */
  validId(lastEventId: string): boolean {
    return lastEventId.length <= this.config.maxIdLength && !/[\0\r\n]/.test(lastEventId);
  }

  /**
   * The gap path: `initMessages` when given (sync or async; live events wait behind it), else one
   * resync event. Either way the client's last id is moved to the head, so its next reconnect
   * resumes from there. Calls `start` with the finished prelude.
   */
  fillGap(c: Connection, lastEventId: string, reason: GapReason, prelude: Uint8Array[], start: () => void): void {
    this.counters.gap(reason);
    const init = this.config.initMessages;
    if (!init) {
      prelude.push(this.resyncFrame(lastEventId, reason));
      return start();
    }
    const headId = this.head();
    const finish = (messages: Message[]) => {
      if (!Array.isArray(messages)) throw new TypeError('ssehub: initMessages must return an array of messages');
      // On the last message when it has no id of its own (parsers that report ids only with events see
      // it too), else in an id-only block.
      const last = messages.length - 1;
      const idOnly = headId !== undefined && (last < 0 || messages[last]!.id !== undefined);
      // Encode all before adding any, so a bad message leaves the prelude untouched for the fallback.
      const frames = messages.map((m, i) => (validateMessage(m, this.limits), encodeEvent(m, m.id ?? (i === last ? headId : undefined))));
      prelude.push(...frames);
      if (idOnly) prelude.push(encodeIdOnly(headId!));
      this.counters.gaps.filled++;
      start();
    };
    const fail = (err: unknown) => {
      this.config.onError(err);
      prelude.push(this.resyncFrame(lastEventId, reason));
      start();
    };
    try {
      const result = init(lastEventId, headId, c);
      if (isPromiseLike<Message[]>(result)) result.then(finish, fail).then(undefined, fail);
      else finish(result);
    } catch (err) {
      fail(err);
    }
  }

  /**
   * The resync event: `{ reason, lastEventId, hubLastEventId }`. With `moveToHead` its id moves the
   * client to the head (or clears its id when there is none), so a reconnect does not loop.
   */
  resyncFrame(lastEventId: string | null, reason: GapReason, moveToHead = true): Uint8Array {
    const head = this.head();
    const data = { reason, lastEventId: lastEventId === null ? null : lastEventId.slice(0, this.config.maxIdLength), hubLastEventId: head ?? null };
    return encodeEvent({ event: this.config.resyncEvent, data }, moveToHead ? head ?? '' : undefined);
  }
}

function isPromiseLike<T>(v: unknown): v is PromiseLike<T> {
  return typeof (v as PromiseLike<T> | null)?.then === 'function';
}
