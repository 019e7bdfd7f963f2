/**
 * The runtime tests' app under the real Bun, mounted as the README says: `Bun.serve({ fetch: app.fetch })`,
 * plus `idleTimeout` when IDLE_TIMEOUT (seconds) is set, and, when STREAM_TIMEOUT (seconds) is set,
 * `server.timeout(request, STREAM_TIMEOUT)` on /events only. Bun reads the workspace tsconfig's
 * `paths`, so @ssehub/* load from their TypeScript sources. Prints `{"port":N}` once it listens.
 */
import { runtimeApp } from './app';

/** The part of Bun's server that the app uses: Hono hands it to handlers as `c.env`. */
interface BunServer {
  port: number;
  timeout(request: Request, seconds: number): void;
}

declare const Bun: {
  serve(options: {
    fetch: (request: Request, server: BunServer) => Response | Promise<Response>;
    port: number;
    hostname: string;
    idleTimeout?: number;
  }): BunServer;
};

const streamTimeout = process.env.STREAM_TIMEOUT;
const app = runtimeApp(
  (name) => process.env[name],
  (app) => {
    if (streamTimeout === undefined) return;
    // The README's per-route form: no idle timeout for the stream, Bun's default for the rest.
    app.use('/events', async (c, next) => {
      (c.env as BunServer).timeout(c.req.raw, Number(streamTimeout));
      await next();
    });
  },
);
const idle = process.env.IDLE_TIMEOUT;
const server = Bun.serve({
  fetch: app.fetch,
  port: 0,
  hostname: '127.0.0.1',
  ...(idle === undefined ? {} : { idleTimeout: Number(idle) }),
});
console.log(JSON.stringify({ port: server.port }));
