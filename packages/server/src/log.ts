/**
 * Structured logs: pino, one JSON object per line on stdout. The hub's own `logger` option is fed
 * from the same logger, so connects, evictions and backplane trouble land in the same stream.
 */
import pino, { type Logger } from 'pino';
import type { HubLogger } from '@ssehub/core';
import type { LogLevel } from './config';

export type { Logger };

/** A pino logger writing JSON lines to stdout, synchronously (nothing is lost when the process exits). */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 1, sync: true }));
}

/** The hub's logger interface over pino: `(message, details)` becomes `log.level(details, message)`. */
export function hubLogger(log: Logger): HubLogger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, details?: Record<string, unknown>) => {
    if (!log.isLevelEnabled(level)) return;
    // pino serializes errors under `err`: the hub reports them under `error`.
    const fields = details && details.error instanceof Error ? { ...details, error: undefined, err: details.error } : details;
    log[level](fields ?? {}, message);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A hub logger that can hold its records back, then pass them on or drop them. */
export interface HeldLogger {
  readonly logger: HubLogger;
  /** Writes what was held and everything from now on. */
  release(): void;
  /** Drops what was held; writes everything from now on. */
  discard(): void;
}

/**
 * Holds the hub's records while the server starts: a Redis that cannot be reached is then said once,
 * in the line the CLI prints, rather than also as warnings and errors; once the server is up, the
 * records held (a slow first connection, say) are written as they came.
 */
export function heldHubLogger(log: Logger, limit = 100): HeldLogger {
  const inner = hubLogger(log);
  let held: [keyof HubLogger, string, Record<string, unknown> | undefined][] | undefined = [];
  const at = (level: keyof HubLogger) => (message: string, details?: Record<string, unknown>) => {
    if (held === undefined) return inner[level]!(message, details);
    if (held.length < limit) held.push([level, message, details]);
  };
  return {
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    release() {
      const records = held ?? [];
      held = undefined;
      for (const [level, message, details] of records) inner[level]!(message, details);
    },
    discard() {
      held = undefined;
    },
  };
}
