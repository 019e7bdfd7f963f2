/**
 * The standalone hub: one ssehub hub behind a plain `node:http` server, configured by a
 * {@link ServerConfig}. The CLI (cli.ts) is a thin shell around {@link createSsehubServer}.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub, type Hub } from '@ssehub/core';
import { checkStreamOptions, createPublishHandler, type CorsOptions } from '@ssehub/core/adapter';
import { registerMetrics } from '@ssehub/metrics';
import { Registry } from 'prom-client';
import { redisBackplane, type RedisBackplane } from '@ssehub/redis';
import { ConfigError, redact, type ServerConfig } from './config';
import { createSubscriberAuth, type SubscriberAuth } from './jwt';
import { createLogger, heldHubLogger, hubLogger, type Logger } from './log';
import { createRouter } from './routes';
import { VERSION } from './version';

/** A created (not yet listening) server. */
export interface SsehubServer {
  /** The HTTP server; `listen()` starts it. */
  readonly server: http.Server;
  /** The hub every route serves, built from the config (history, heartbeat, limits, Redis). */
  readonly hub: Hub;
  /** The server's pino logger: one JSON line per record on stdout, at `logLevel` and above. */
  readonly log: Logger;
  /** The Redis backplane, when `redisUrl` is set. */
  readonly backplane: RedisBackplane | undefined;
  /**
   * Resolves once the backplane (if any) has joined the shared stream. Until then (or `listen()`),
   * the hub's log records are held: written if Redis answers, dropped if it does not (the error says it).
   * @throws Error when it has not within `ms` (default: the config's `redisConnectTimeout`).
   */
  ready(ms?: number): Promise<void>;
  /** Listens on the configured host and port. @returns the address. */
  listen(): Promise<AddressInfo>;
  /**
   * Stops: new streams are refused, open ones end over `within` ms (default: the config's `drain`)
   * and their clients reconnect elsewhere with Last-Event-ID, then the HTTP server and the hub close.
   */
  close(within?: number): Promise<void>;
}

/** Options of {@link createSsehubServer}. */
export interface CreateOptions {
  /** The logger; default: pino at the config's level on stdout. */
  log?: Logger;
}

/**
 * Builds the hub, its backplane, the subscriber check and the HTTP server.
 * @throws ConfigError for a configuration that only shows as wrong when used (a key that cannot be imported).
 */
export async function createSsehubServer(config: ServerConfig, options: CreateOptions = {}): Promise<SsehubServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const subscribers: SubscriberAuth | undefined = config.jwt ? await createSubscriberAuth(config.jwt) : undefined;
  const cors: CorsOptions | undefined = config.corsOrigins ? { origins: config.corsOrigins, credentials: config.corsCredentials } : undefined;
  checkStreamOptions({ cors });

  const backplane = config.redisUrl ? redisBackplane({ url: config.redisUrl, prefix: config.redisPrefix }) : undefined;
  // With Redis, the hub's records wait until Redis has answered (see `ready`).
  const held = backplane ? heldHubLogger(log) : undefined;
  const hub = createHub({
    history: config.history,
    heartbeat: config.heartbeat,
    retry: config.retry,
    timeout: config.timeout,
    tolerance: config.tolerance,
    maxClients: config.maxClients,
    logger: held?.logger ?? hubLogger(log),
    backplane,
  });
  let publish;
  try {
    publish = createPublishHandler<http.IncomingMessage>(hub, {
      token: config.tokens.length ? config.tokens : undefined,
      public: config.public,
      maxBodyBytes: config.maxBodyBytes,
      cors,
    });
  } catch (err) {
    await hub.close();
    throw new ConfigError(err instanceof Error ? err.message.replace(/^ssehub: /, '') : String(err));
  }

  // A registry of its own: the process's default one stays the app's (tests start several servers).
  const metrics = new Registry();
  registerMetrics(hub, { registry: metrics });
  const server = http.createServer(createRouter({ hub, config, cors, publish, metrics, subscribers, log, version: VERSION }));

  return {
    server,
    hub,
    log,
    backplane,
    async ready(ms = config.redisConnectTimeout) {
      if (!backplane) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`cannot reach Redis at ${redact(config.redisUrl!)} (no answer within ${ms / 1000} s)`)), ms);
      });
      try {
        await Promise.race([backplane.ready(), timeout]);
        held?.release();
      } catch (err) {
        // The caller says it in one line; the outage warnings the wait produced would only repeat it.
        held?.discard();
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
    listen() {
      held?.release();
      return new Promise<AddressInfo>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(config.port, config.host, () => {
          server.off('error', onError);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close(within = config.drain) {
      if (server.listening) await hub.drain({ within, server });
      else await hub.close();
    },
  };
}
