import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { HttpStream } from './clients';

/** The non-Node runtimes the Hono and Fetch adapters are tested on, as real child processes. */
export type RuntimeName = 'bun' | 'deno';

/**
 * Which app a runtime serves: `hono`, the Hono app (runtime/app.ts), or `fetch`, `@ssehub/fetch`'s
 * handlers with no framework (runtime/fetch-app.ts). Both have the same routes.
 */
export type RuntimeApp = 'hono' | 'fetch';

/** The entry script of each app on each runtime, in packages/testing/runtime. */
const SCRIPTS: Record<RuntimeApp, Record<RuntimeName, string>> = {
  hono: { bun: 'bun-server.ts', deno: 'deno-server.ts' },
  fetch: { bun: 'fetch-bun-server.ts', deno: 'fetch-deno-server.ts' },
};

/** packages/testing: where the runtimes' npm packages are installed and their scripts live. */
const TESTING_DIR = path.resolve(__dirname, '..');
const RUNTIME_DIR = path.join(TESTING_DIR, 'runtime');

/**
 * The path of a runtime's real binary, from its npm package (a devDependency of @ssehub/testing;
 * both ship the binary through an optional dependency per platform).
 * @throws Error with what to do when the package or its binary is missing: a test that needs it fails.
 */
export function runtimeBinary(name: RuntimeName): string {
  let file: string;
  try {
    const pkgDir = path.dirname(require.resolve(`${name}/package.json`, { paths: [TESTING_DIR] }));
    if (name === 'bun') {
      // Bun's postinstall puts the binary in place of this placeholder.
      file = path.join(pkgDir, 'bin', 'bun.exe');
    } else {
      // Deno's install API copies the platform package's binary beside it, or returns where it is.
      const install = require(path.join(pkgDir, 'install_api.cjs')) as { runInstall(): string };
      file = install.runInstall();
    }
  } catch (err) {
    throw new Error(
      `${name} is not installed: the ${name} npm package (a devDependency of packages/testing) or its ` +
        `platform binary is missing. Run \`npx -y pnpm@9.15.9 install\` without --ignore-scripts. (${String(err)})`,
    );
  }
  const probe = spawnSync(file, ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0 || !/\d+\.\d+\.\d+/.test(probe.stdout)) {
    const why = probe.error?.message ?? (probe.stderr.trim() || `exit ${probe.status}`);
    throw new Error(
      `the ${name} binary at ${file} does not run (${why}): ` +
        `reinstall with \`npx -y pnpm@9.15.9 install\` (its postinstall script must run).`,
    );
  }
  return file;
}

/** A runtime serving one of packages/testing/runtime's apps on 127.0.0.1 and a port it chose. */
export interface RuntimeServer {
  readonly runtime: RuntimeName;
  readonly app: RuntimeApp;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Everything the process wrote on stderr so far. */
  stderr(): string;
  /** Ends the process and resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts the real Bun (`Bun.serve({ fetch })`) or Deno (`Deno.serve(handler)`) on a runtime app
 * (default: the Hono one), straight from the TypeScript sources. `env`: HEARTBEAT (ms) for the hub,
 * IDLE_TIMEOUT (s) for Bun.serve.
 * @throws when the binary is missing or the server does not print its port within 30 s.
 */
export async function startRuntime(runtime: RuntimeName, env: Record<string, string> = {}, app: RuntimeApp = 'hono'): Promise<RuntimeServer> {
  const bin = runtimeBinary(runtime);
  const script = path.join(RUNTIME_DIR, SCRIPTS[app][runtime]);
  const args =
    runtime === 'bun'
      ? ['run', script]
      : [
          'run',
          '--no-prompt',
          '--allow-net=127.0.0.1',
          '--allow-env',
          '--allow-read',
          `--config=${path.join(RUNTIME_DIR, 'deno.json')}`,
          script,
        ];
  const child = spawn(bin, args, {
    cwd: TESTING_DIR,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => (stderr += s));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const port = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${runtime} did not start: ${why}\nstdout: ${stdout}\nstderr: ${stderr}`));
    };
    const timer = setTimeout(() => fail('no port printed within 30 s'), 30_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => {
      stdout += s;
      const m = /\{"port":(\d+)\}/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => fail(`exited with ${signal ?? code}`));
  });

  return {
    runtime,
    app,
    port,
    origin: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    stop: () => stopChild(child, exited),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** What the runtime app's /state route reports: the hub's open streams, and connects and disconnects so far. */
export interface HubState {
  size: number;
  connects: number;
  disconnects: number;
}

export async function hubState(origin: string): Promise<HubState> {
  const res = await fetch(`${origin}/state`);
  if (res.status !== 200) throw new Error(`/state answered ${res.status}`);
  return (await res.json()) as HubState;
}

/** Broadcasts through the publish API (`POST /api/broadcast`); resolves to the event's id. */
export async function broadcast(origin: string, data: unknown, fields: { event?: string; retry?: number } = {}): Promise<string> {
  const res = await fetch(`${origin}/api/broadcast`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ data, ...fields }),
  });
  const body = (await res.json()) as { id?: string; error?: string };
  if (res.status !== 201 || typeof body.id !== 'string') throw new Error(`broadcast answered ${res.status}: ${JSON.stringify(body)}`);
  return body.id;
}

/** Ends every stream of one client id through the publish API (`DELETE /api/clients/:id`); resolves to how many. */
export async function disconnectClient(origin: string, clientId: string): Promise<number> {
  const res = await fetch(`${origin}/api/clients/${encodeURIComponent(clientId)}`, { method: 'DELETE' });
  const body = (await res.json()) as { closed: number };
  return body.closed;
}

/** Opens a stream, failing after `ms` if the status line and headers have not arrived. */
export async function openWithin(url: string, ms: number, headers: Record<string, string> = {}): Promise<HttpStream> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no response headers within ${ms} ms from ${url}`)), ms);
  });
  try {
    return await Promise.race([HttpStream.open(url, headers), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
