#!/usr/bin/env node
/**
 * `ssehub` (`npx @ssehub/server`): reads flags and environment, starts the hub, prints where it
 * listens, and drains on SIGTERM and SIGINT. A configuration it cannot use, a port in use or a Redis
 * it cannot reach ends it with one line on stderr (`ssehub: ...`) and exit code 1, never a stack trace.
 */
import { ConfigError, helpText, parseCli, redact, type ServerConfig } from './config';
import type { SsehubServer } from './server';
import { VERSION } from './version';

/** Prints one line and exits 1. */
function fail(message: string): never {
  process.stderr.write(`ssehub: ${message}\n`);
  process.exit(1);
}

/** Why listening failed, in words. */
function listenProblem(err: NodeJS.ErrnoException, config: ServerConfig): string {
  const where = `${config.host}:${config.port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: the port is already in use (choose another with --port or SSEHUB_PORT)`;
    case 'EACCES':
      return `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: ${config.host} is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${where}: the host name ${config.host} does not resolve`;
    default:
      return `cannot listen on ${where}: ${err.message}`;
  }
}

/** Set once the server exists, so an unexpected runtime error is logged with its stack. */
let runtimeLog: SsehubServer['log'] | undefined;

async function main(): Promise<void> {
  let action;
  try {
    action = parseCli(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  if (action.kind === 'help') {
    process.stdout.write(helpText(VERSION) + '\n');
    return;
  }
  if (action.kind === 'version') {
    process.stdout.write(VERSION + '\n');
    return;
  }
  const { config } = action;

  // Loaded once the configuration is known to be usable: a bad one is refused without loading the hub.
  const [{ createSsehubServer }, { startBanner, serverUrl }] = await Promise.all([import('./server'), import('./banner')]);
  let app: SsehubServer;
  try {
    app = await createSsehubServer(config);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const { log } = app;
  runtimeLog = log;
  try {
    await app.ready();
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  let address;
  try {
    address = await app.listen();
  } catch (err) {
    fail(listenProblem(err as NodeJS.ErrnoException, config));
  }

  log.info(
    {
      url: serverUrl(address),
      address: address.address,
      port: address.port,
      redis: config.redisUrl ? { url: redact(config.redisUrl), prefix: config.redisPrefix } : undefined,
      publish: config.public ? 'public' : 'token',
      subscribe: config.jwt ? 'jwt' : 'open',
      cors: config.corsOrigins ?? null,
    },
    'ssehub listening',
  );
  // For people: on stderr, so stdout stays one JSON object per line.
  if (log.isLevelEnabled('info')) process.stderr.write(startBanner(config, address) + '\n');

  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without waiting for the streams');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal, streams: app.hub.size, within: config.drain }, 'shutting down: ending the streams, clients reconnect elsewhere');
      app.close().then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

process.on('uncaughtException', (err) => {
  runtimeLog?.fatal({ err }, 'unexpected error');
  process.stderr.write(`ssehub: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

main().catch((err: unknown) => fail(`could not start: ${err instanceof Error ? err.message : String(err)}`));
