export { createSsehubServer } from './server';
export type { SsehubServer, CreateOptions } from './server';
export { parseCli, resolveConfig, helpText, redact, ConfigError, OPTIONS, LOG_LEVELS, SECRET_ALGS, PUBLIC_KEY_ALGS } from './config';
export type { ServerConfig, JwtConfig, OptionSpec, LogLevel, CliAction } from './config';
export { createSubscriberAuth, grantOf, findToken, readCookie, CLAIM } from './jwt';
export type { Grant, SubscriberAuth } from './jwt';
export { ALL, STREAM_PATH, API_PREFIX, OPERATIONS_PATHS, RESERVED_SEGMENTS } from './routes';
export { startBanner, serverUrl } from './banner';
export { VERSION } from './version';
