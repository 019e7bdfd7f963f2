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
