import { checkCount } from '../options';
import type { Connection } from './connection';

/** Something that stops accepting connections: a Node `http.Server`, `https.Server` or `http2` server. */
export interface ClosableServer {
  /** Stops accepting connections; `callback` runs once every connection has ended. */
  close(callback?: (err?: Error) => void): unknown;
  /** Node 18.2+: closes connections that carry no request. */
  closeIdleConnections?(): void;
  /** Node 18.2+: closes every connection. */
  closeAllConnections?(): void;
}

/** Options of `hub.drain()`. */
export interface DrainOptions {
  /**
   * Milliseconds over which the open streams are ended, one after another in random order, so their
   * clients do not all reconnect to the remaining instances in the same second. Default: 5000.
   */
  within?: number;
  /**
   * The HTTP server to close with the hub: it stops accepting at once, its idle keep-alive
   * connections are closed while the streams end, and whatever is still open `grace` ms after the
   * last stream ended is closed. Default: none (close it yourself).
   */
  server?: ClosableServer;
  /** Milliseconds the server's last connections get after the last stream ended. Default: 1000. */
  grace?: number;
}

/** What a drain needs of its hub. */
export interface DrainHost {
  /** The open connections now. */
  connections(): Connection[];
  /** Ends one stream gracefully (its client reconnects). */
  end(c: Connection): void;
  /** Ends what is left and closes the hub. */
  close(): Promise<void>;
  readonly closed: boolean;
}

/**
 * Ends the open streams spread over `within` ms, in random order, then closes the hub; with a server,
 * closes it as well (see {@link DrainOptions}). The hub refuses new streams before this starts.
 */
export async function drain(host: DrainHost, options: DrainOptions): Promise<void> {
  const { within = 5000, server, grace = 1000 } = options;
  checkCount('within', within);
  checkCount('grace', grace);
  const serverClosed = server ? new Promise<void>((resolve) => void server.close(() => resolve())) : undefined;
  const order = shuffle(host.connections());
  const started = Date.now();
  // One stream every within/n ms: enough ticks to spread the ends, never a timer per stream.
  const tick = Math.min(100, Math.max(10, Math.floor(within / Math.max(1, order.length))));
  let next = 0;
  while (next < order.length && !host.closed) {
    const elapsed = Date.now() - started;
    const due = within === 0 ? order.length : Math.min(order.length, Math.floor((elapsed * order.length) / within) + 1);
    while (next < due) host.end(order[next++]!);
    server?.closeIdleConnections?.();
    if (next < order.length) await sleep(tick);
  }
  await host.close();
  if (server && serverClosed) {
    server.closeIdleConnections?.();
    await Promise.race([serverClosed, sleep(grace)]);
    server.closeAllConnections?.();
    await Promise.race([serverClosed, sleep(grace)]);
  }
}

/** Resolves after `ms`, without keeping the process alive for it. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

/** The list in random order (Fisher-Yates), in place. */
function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}
