/**
 * What the server's tests share: the real `ssehub` binary started as a child process (from the
 * TypeScript sources through tsx, as `pnpm --filter @ssehub/server start` runs it), real curl, and
 * tokens signed with node:crypto (an implementation independent of the jose the server verifies with).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHmac, sign, type KeyObject } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';

export const SERVER_DIR = path.resolve(__dirname, '..');

/**
 * The command that starts the binary from the sources: Node with tsx's loader (what `tsx src/cli.ts`
 * runs, minus tsx's wrapper process), so signals reach the server itself.
 */
export function ssehubCommand(args: readonly string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args]];
}

/** The environment without any SSEHUB_* or PORT of the machine's, plus `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SSEHUB_') && k !== 'PORT') clean[k] = v;
  return { ...clean, ...env };
}

/** A running `ssehub`. */
export interface Ssehub {
  readonly child: ChildProcess;
  /** The URL it printed. */
  readonly url: string;
  readonly port: number;
  stdout(): string;
  stderr(): string;
  /** The JSON log lines so far. */
  logs(): Record<string, unknown>[];
  /** Resolves with the exit code (or the signal) once it has exited. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals | null>;
}

const running = new Set<ChildProcess>();

/** Kills (SIGKILL) every server and background command a test left running. Call in afterAll. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/**
 * Starts `ssehub` with these arguments (and `--port 0` unless a port is given) and resolves once it
 * printed the URL it listens on.
 */
export function startSsehub(args: readonly string[], env: Record<string, string> = {}, ms = 45_000): Promise<Ssehub> {
  const full = args.includes('--port') || 'SSEHUB_PORT' in env ? [...args] : ['--port', '0', ...args];
  const [cmd, argv] = ssehubCommand(full);
  const child = spawn(cmd, argv, { cwd: SERVER_DIR, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal);
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ssehub did not print its URL within ${ms} ms:\n${out}\n${err}`));
    }, ms);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (!m) return;
      clearTimeout(timer);
      child.stderr!.off('data', check);
      const url = m[1]!;
      resolve({
        child,
        url,
        port: Number(new URL(url).port),
        stdout: () => out,
        stderr: () => err,
        logs: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
        exited,
        stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    };
    child.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ssehub exited (${code}) before listening:\n${out}\n${err}`));
    });
  });
}

/** What a finished process left. */
export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ssehub` to its end (a bad configuration, `--help`), killing it after `ms`. */
export function runSsehub(args: readonly string[], env: Record<string, string> = {}, ms = 45_000): Promise<Finished> {
  const [cmd, argv] = ssehubCommand(args);
  return run(cmd, argv, { cwd: SERVER_DIR, env: childEnv(env) }, ms);
}

/** Runs a shell command line (curl, as a person would paste it) to its end. */
export function sh(command: string, env: Record<string, string> = {}, ms = 10_000): Promise<Finished> {
  return run('sh', ['-c', command], { env: { ...process.env, ...env } }, ms);
}

function run(cmd: string, argv: string[], options: { cwd?: string; env: NodeJS.ProcessEnv }, ms: number): Promise<Finished> {
  return new Promise((resolve) => {
    execFile(cmd, argv, { ...options, timeout: ms, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A command line that runs in the background (a subscribing curl), read until it ends. */
export interface Background {
  readonly child: ChildProcess;
  output(): string;
  readonly done: Promise<Finished>;
}

export function shBackground(command: string): Background {
  const child = spawn('sh', ['-c', `exec ${command}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const done = new Promise<Finished>((resolve) => child.once('close', (code) => resolve({ code, stdout: out, stderr: err })));
  return { child, output: () => out, done };
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** A JWT signed with HS256, minted with node:crypto alone. */
export function hs256(secret: string, payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** A JWT signed with ES256 (a P-256 private key), minted with node:crypto alone. */
export function es256(key: KeyObject, payload: Record<string, unknown>): string {
  const input = `${b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  // JWS wants the raw r||s signature, not DER.
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** Seconds since the epoch, `s` from now. */
export const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

/** POSTs JSON, with these headers; resolves with the status and the parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
