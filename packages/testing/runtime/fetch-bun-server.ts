/**
 * The runtime tests' `@ssehub/fetch` app under the real Bun, mounted as its README says:
 * `Bun.serve({ fetch, idleTimeout })`, with `idleTimeout` only when IDLE_TIMEOUT (seconds) is set.
 * Bun reads the workspace tsconfig's `paths`, so @ssehub/* load from their TypeScript sources.
 * Prints `{"port":N}` once it listens.
 */
import { fetchApp } from './fetch-app';

declare const Bun: {
  serve(options: { fetch: (request: Request) => Promise<Response>; port: number; hostname: string; idleTimeout?: number }): { port: number };
};

const idle = process.env.IDLE_TIMEOUT;
const server = Bun.serve({
  fetch: fetchApp((name) => process.env[name]),
  port: 0,
  hostname: '127.0.0.1',
  ...(idle === undefined ? {} : { idleTimeout: Number(idle) }),
});
console.log(JSON.stringify({ port: server.port }));
