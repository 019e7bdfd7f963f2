/**
 * The runtime tests' `@ssehub/fetch` app under the real Deno, mounted as its README says:
 * `Deno.serve(handler)`. deno.json beside this file maps @ssehub/* to their TypeScript sources.
 * Prints `{"port":N}` once it listens.
 */
import { fetchApp } from './fetch-app';

declare const Deno: {
  env: { get(name: string): string | undefined };
  serve(
    options: { port: number; hostname: string; onListen: (addr: { port: number }) => void },
    handler: (request: Request) => Promise<Response>,
  ): unknown;
};

Deno.serve(
  { port: 0, hostname: '127.0.0.1', onListen: ({ port }) => console.log(JSON.stringify({ port })) },
  fetchApp((name) => Deno.env.get(name)),
);
