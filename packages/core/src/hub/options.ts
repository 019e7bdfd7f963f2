import type { Backplane } from '../backplane';
import { checkCount } from '../options';
import type { Message } from '../message';
import { encodeRetry } from '../wire/encoder';
import { DEFAULT_MAX_ID_LENGTH, validateMessage } from '../wire/validate';
import type { Client } from './connection';

/** Why a client was evicted: it stayed unable to take writes (`timeout`), or queued too much (`buffer`). */
export type EvictReason = 'timeout' | 'buffer';

/** Messages (or a promise of them) that fill a gap the history cannot replay. */
export type InitMessages = (
  clientLastEventId: string,
  hubLastEventId: string | undefined,
  client: Client,
) => Message[] | Promise<Message[]>;

/** A logger the hub can report to; every method is optional. `console` fits. */
export interface HubLogger {
  debug?(message: string, details?: Record<string, unknown>): void;
  info?(message: string, details?: Record<string, unknown>): void;
  warn?(message: string, details?: Record<string, unknown>): void;
  error?(message: string, details?: Record<string, unknown>): void;
}

/** Options of `createHub`. Every one is optional. */
export interface HubOptions {
  /** How many events the replay history keeps (0 disables replay). Default: 1000. */
  history?: number;
  /** Milliseconds between heartbeat comments on one hub-wide timer (0 disables). Default: 15000. */
  heartbeat?: number;
  /** Reconnection delay (ms) sent as a `retry:` line first on every stream. Default: none sent. */
  retry?: number;
  /** Milliseconds a client may stay unable to take writes before that counts as one failure (0: never). Default: 5000. */
  timeout?: number;
  /** Failures in a row (see `timeout`) that evict a client. Default: 3. */
  tolerance?: number;
  /** Bytes queued for one client (hub queue plus transport buffer) past which it is evicted at once. Default: 1 MiB. */
  maxBufferedBytes?: number;
  /** Streams accepted at once; more are refused (see the adapters' `retryAfter`). Default: Infinity. */
  maxClients?: number;
  /** Replay the retained history to a client that sends no Last-Event-ID. Default: false. */
  replayAll?: boolean;
  /**
   * Milliseconds after which a stream is ended so its client reconnects (and resumes from the
   * history, losing nothing), spread between 75% and 100% of this value so reconnects do not come
   * all at once. It rebalances long-lived streams across instances after a scale-out. Default: 0 (off).
   */
  maxLifetime?: number;
  /**
   * The longest event id: a longer Last-Event-ID is treated as unknown, and `broadcast` refuses a
   * longer id (it could never be looked up). Default: 256.
   */
  maxLastEventIdLength?: number;
  /**
   * Fills a gap the history cannot replay (the Last-Event-ID is unknown, or older than the history).
   * Its messages go to that client only, first, and are not kept. Default: none; the client then
   * gets a {@link HubOptions.resyncEvent} event.
   */
  initMessages?: InitMessages;
  /**
   * The event type that tells a client its Last-Event-ID could not be honoured and it should reload
   * its state. Its data is JSON `{ reason, lastEventId, hubLastEventId }`. Default: `'ssehub-resync'`.
   */
  resyncEvent?: string;
  /**
   * Receives runtime errors: thrown by event handlers or `initMessages`, a transport that throws, a
   * backplane in trouble. Default: `logger.error` when a logger is given, else `process.emitWarning`.
   */
  onError?: (err: unknown) => void;
  /**
   * Where the hub says what it does: connects and disconnects at `debug`, a backplane's recovery at
   * `info`, evictions and backplane outages at `warn`, errors at `error` (unless `onError` is
   * given). Default: none (silent).
   */
  logger?: HubLogger;
  /**
   * A shared log (such as `@ssehub/redis`'s `redisBackplane()`) that makes hubs in several processes
   * act as one: broadcasts reach clients on every hub, in one global order, and a client resumes on
   * any hub. `broadcast()` still returns its id at once, but delivery (here too) happens when the
   * event comes back from the log, so `lastEventId` moves then. `history` is then a local cache of
   * the shared history. Default: none (this process only, no extra cost).
   */
  backplane?: Backplane;
}

/** The hub's options with every default applied and checked once: what its parts read. */
export interface HubConfig {
  readonly history: number;
  readonly heartbeat: number;
  /** The `retry:` line every stream starts with, encoded once; undefined when none is sent. */
  readonly retryLine: Uint8Array | undefined;
  readonly timeout: number;
  readonly tolerance: number;
  readonly maxBufferedBytes: number;
  readonly maxClients: number;
  readonly replayAll: boolean;
  readonly maxLifetime: number;
  readonly maxIdLength: number;
  readonly initMessages: InitMessages | undefined;
  readonly resyncEvent: string;
  readonly onError: (err: unknown) => void;
  readonly logger: HubLogger | undefined;
  readonly backplane: Backplane | undefined;
}

/** The defaults of {@link HubOptions}, in one place. */
export const HUB_DEFAULTS = Object.freeze({
  history: 1000,
  heartbeat: 15_000,
  timeout: 5000,
  tolerance: 3,
  maxBufferedBytes: 1024 * 1024,
  maxClients: Infinity,
  replayAll: false,
  maxLifetime: 0,
  maxLastEventIdLength: DEFAULT_MAX_ID_LENGTH,
  resyncEvent: 'ssehub-resync',
});

/**
 * Applies the defaults and checks every option.
 * @throws TypeError for a count that is not a non-negative integer (positive where zero makes no
 *   sense), or a resync event name that could not go on the wire.
 */
export function hubConfig(options: HubOptions): HubConfig {
  const d = HUB_DEFAULTS;
  const {
    history = d.history,
    heartbeat = d.heartbeat,
    retry,
    timeout = d.timeout,
    tolerance = d.tolerance,
    maxBufferedBytes = d.maxBufferedBytes,
    maxClients = d.maxClients,
    replayAll = d.replayAll,
    maxLifetime = d.maxLifetime,
    maxLastEventIdLength = d.maxLastEventIdLength,
    initMessages,
    resyncEvent = d.resyncEvent,
    logger,
    onError = logger?.error ? (error: unknown) => logger.error!('ssehub: error', { error }) : defaultOnError,
    backplane,
  } = options;
  checkCount('history', history);
  checkCount('heartbeat', heartbeat);
  checkCount('timeout', timeout);
  checkCount('tolerance', tolerance, 1);
  checkCount('maxBufferedBytes', maxBufferedBytes, 1);
  checkCount('maxLifetime', maxLifetime);
  checkCount('maxLastEventIdLength', maxLastEventIdLength, 1);
  checkCount('maxClients', maxClients, 1, true);
  if (retry !== undefined) checkCount('retry', retry);
  validateMessage({ data: '', event: resyncEvent });
  return {
    history,
    heartbeat,
    retryLine: retry === undefined ? undefined : encodeRetry(retry),
    timeout,
    tolerance,
    maxBufferedBytes,
    maxClients,
    replayAll,
    maxLifetime,
    maxIdLength: maxLastEventIdLength,
    initMessages,
    resyncEvent,
    onError,
    logger,
    backplane,
  };
}

function defaultOnError(err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  // A bare runtime (a worker) may have no process: there is nowhere else to say it then.
  const p = (globalThis as { process?: { emitWarning?: (e: Error) => void } }).process;
  if (typeof p?.emitWarning === 'function') p.emitWarning(e);
}
