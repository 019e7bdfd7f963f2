/**
 * The runtime tests' app under the real Deno, mounted as the README says: `Deno.serve(app.fetch)`.
 * deno.json beside this file maps @ssehub/* to their TypeScript sources, resolves `hono` from the
 * workspace's node_modules and allows the sources' extensionless imports. Prints `{"port":N}` once it listens.
 */
import { runtimeApp } from './app';

declare const Deno: {
  env: { get(name: string): string | undefined };
  serve(
    options: { port: number; hostname: string; onListen: (addr: { port: number }) => void },
    handler: (request: Request, info: unknown) => Response | Promise<Response>,
  ): unknown;
};

const app = runtimeApp((name) => Deno.env.get(name));
Deno.serve({ port: 0, hostname: '127.0.0.1', onListen: ({ port }) => console.log(JSON.stringify({ port })) }, app.fetch);
