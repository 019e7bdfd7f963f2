/**
 * Real app processes for the restart and full-hub suites: the fixture server
 * (packages/testing/fixtures/restart-server.ts) as a child process on a port from the OS, what it
 * logs, a publisher that keeps broadcasting through the publish API while processes come and go,
 * and the per-client verdict (lost, duplicated, out of order, gap said) across a restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
/** The fixture app the suites start. */
export const FIXTURE = path.join(ROOT, 'packages/testing/fixtures/restart-server.ts');
/** The bearer token the suites give the fixture's publish API. */
export const TOKEN = 'restart-suite-token';

/**
 * tsx's CommonJS hook, for `node --require`: the workspace's own tsx (the examples' start scripts
 * run on it). The app is then one process, so a signal reaches it directly and its exit is the app's
 * exit (the tsx CLI would put a second process in between), and it starts sooner than with
 * `--import tsx`, which also loads the ES module hooks on a thread of their own.
 */
export function tsxRequireHook(): string {
  const from = path.join(ROOT, 'examples/express');
  try {
    return require.resolve('tsx/cjs', { paths: [from] });
  } catch (err) {
    throw new Error(`tsx is not installed in examples/express (a devDependency there): run \`npx -y pnpm@9.15.9 install\`. (${String(err)})`);
  }
}

/** A port no one listens on now, from the OS (listen on 0, read it, let it go). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** What the fixture reads from its environment (see restart-server.ts). */
export interface FixtureEnv {
  ADAPTER: string;
  PORT: number;
  SHUTDOWN?: 'server-first' | 'hub-first' | 'drain';
  DRAIN_MS?: number;
  GRACE_MS?: number;
  RETRY_MS?: number;
  HISTORY?: number;
  MAX_CLIENTS?: number;
  RETRY_AFTER?: number;
}

/** One JSON line the fixture wrote. */
export interface LogLine {
  type: 'waiting' | 'listening' | 'request' | 'connect' | 'disconnect' | 'published' | 'shutdown' | 'closed' | 'open' | 'exit';
  t: number;
  clientId?: string | null;
  lastEventId?: string | null;
  id?: string;
  pid?: number;
  [field: string]: unknown;
}

/** How a process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/** Every fixture process started and not yet seen exiting, so a failing test leaves none behind. */
const running = new Set<AppProcess>();

/** The fixture app as a child process: its log, its exit, and a way to signal it. */
export class AppProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  /** Output that is not a log line (warnings, stack traces), stdout and stderr. */
  other = '';
  /** Resolves with the `listening` line; rejects if the process exits first or takes over 30 s. */
  readonly listening: Promise<LogLine>;
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  /** When `terminate()` sent the signal. */
  signalledAt: number | undefined;

  private constructor(readonly env: FixtureEnv) {
    const vars: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) vars[k] = String(v);
    this.child = spawn(process.execPath, ['--require', tsxRequireHook(), FIXTURE], {
      cwd: ROOT,
      env: { ...process.env, ...vars, TOKEN, TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json'), NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    // `at` is when the process exited; the promise settles once its output is read too ('close').
    let exitedAt = 0;
    this.child.once('exit', () => (exitedAt = Date.now()));
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal, at: exitedAt || Date.now() };
        running.delete(this);
        resolve(this.exit);
      }),
    );
    let listened: (line: LogLine) => void = () => undefined;
    this.listening = new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the fixture did not listen within 30 s:\n${this.other}`)), 30_000);
      listened = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      void this.exited.then((e) => {
        clearTimeout(timer);
        reject(new Error(`the fixture exited (${e.signal ?? e.code}) before listening:\n${this.other}`));
      });
    });
    let buffered = '';
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          this.other += text + '\n';
          continue;
        }
        this.lines.push(line);
        if (line.type === 'listening') listened(line);
      }
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => (this.other += chunk));
    // A rejection nobody awaits (the test failed elsewhere first) must not become an unhandled one.
    this.listening.catch(() => undefined);
  }

  /** Starts the fixture with `env`. Await `listening` before connecting. */
  static start(env: FixtureEnv): AppProcess {
    return new AppProcess(env);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.env.PORT}`;
  }

  /** Sends SIGTERM (or `signal`) and returns when it was sent. */
  terminate(signal: NodeJS.Signals = 'SIGTERM'): number {
    this.signalledAt = Date.now();
    process.kill(this.pid, signal);
    return this.signalledAt;
  }

  /** Resolves with the exit, or with undefined if the process is still running after `ms`. */
  async exitWithin(ms: number): Promise<Exit | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills it with SIGKILL (by its pid) if it still runs, and waits for the exit. */
  async kill(): Promise<void> {
    if (this.exit) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // Already gone; the exit event is on its way.
    }
    await this.exited;
  }

  /** Log lines of one type, of one client id when given. */
  of(type: LogLine['type'], clientId?: string): LogLine[] {
    return this.lines.filter((l) => l.type === type && (clientId === undefined || l.clientId === clientId));
  }

  /** The first line of this type (and client id), or undefined. */
  first(type: LogLine['type'], clientId?: string): LogLine | undefined {
    return this.lines.find((l) => l.type === type && (clientId === undefined || l.clientId === clientId));
  }

  /** Every id this process's hub assigned, in order. */
  published(): string[] {
    return this.of('published').map((l) => l.id!);
  }

  /** True when every client id in `ids` has connected to this process. */
  connected(ids: readonly string[]): boolean {
    return ids.every((id) => this.lines.some((l) => l.type === 'connect' && l.clientId === id));
  }
}

/** Kills every fixture process still running (by pid) and waits for them. For afterEach and afterAll. */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}

/** One publish attempt through the publish API. */
export interface Publish {
  seq: number;
  at: number;
  /**
   * `accepted`: 201 with an id. `refused`: no process was listening (ECONNREFUSED), nothing sent.
   * `rejected`: an answer other than 201 (503 once a hub is closed). `unknown`: the request broke
   * after it was sent (the hub may or may not have published it).
   */
  outcome: 'accepted' | 'refused' | 'rejected' | 'unknown';
  id?: string;
  detail?: string;
}

/**
 * Broadcasts `{ seq }` through `POST /api/broadcast` every `everyMs`, one request at a time (so ids
 * come in seq order), each on a connection of its own (no keep-alive connection is pinned to a
 * process going away), to whichever process listens on the port.
 */
export class Publisher {
  readonly attempts: Publish[] = [];
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly port: number,
    private readonly everyMs = 20,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const started = Date.now();
        this.attempts.push(await this.publishOnce(this.attempts.length + 1));
        const wait = this.everyMs - (Date.now() - started);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  }

  /** Stops after the request in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  accepted(): Publish[] {
    return this.attempts.filter((a) => a.outcome === 'accepted');
  }

  /** Publishes one `{ seq }` now (also while stopped). */
  publishOnce(seq: number, data: unknown = { seq }): Promise<Publish> {
    const body = JSON.stringify({ data });
    const at = Date.now();
    return new Promise((resolve) => {
      let sent = false;
      const done = (p: Omit<Publish, 'seq' | 'at'>) => resolve({ seq, at, ...p });
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method: 'POST',
          path: '/api/broadcast',
          agent: false,
          headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            if (res.statusCode === 201) done({ outcome: 'accepted', id: (JSON.parse(text) as { id: string }).id });
            else done({ outcome: 'rejected', detail: `${res.statusCode} ${text.trim()}` });
          });
          res.on('error', (err) => done({ outcome: 'unknown', detail: err.message }));
        },
      );
      req.setTimeout(2000, () => req.destroy(new Error('timed out')));
      req.on('socket', (s) => s.on('connect', () => (sent = true)));
      req.on('error', (err: NodeJS.ErrnoException) =>
        done({ outcome: !sent && err.code === 'ECONNREFUSED' ? 'refused' : 'unknown', detail: err.code ?? err.message }),
      );
      req.end(body);
    });
  }
}

/** One event as a client reported it: its type, data, and its id (a browser's `lastEventId`). */
export interface SeenEvent {
  type: string;
  data: string;
  id: string | undefined;
}

/** What one client saw across a restart from process `before` to process `after`. */
export interface Verdict {
  /** Events of the published kind (`message`) received. */
  received: number;
  /** Published events received more than once. */
  duplicates: number;
  /** Events that came after one published later. */
  outOfOrder: number;
  /** Ids received that neither process published. */
  foreign: string[];
  /** Events the old process published that the client never got, while it got later old ones. */
  oldHoles: number;
  /** Events the old process published after the last one the client got from it. */
  oldMissedAtEnd: number;
  /** Events the new process published that the client never got. */
  newMissed: number;
  /** The last old id the client got: what it should come back with. */
  lastOldId: string | undefined;
  /** The `ssehub-resync` the new process sent it, parsed, or undefined. */
  resync: { reason: string; lastEventId: string; hubLastEventId: string | null } | undefined;
  /**
   * The gap between the processes was said: a `restart` resync naming the client's last old id,
   * after its last old event and before its first new one.
   */
  gapSaid: boolean;
}

/** Compares what a client received with what each process published (in order). */
export function verdict(events: readonly SeenEvent[], oldIds: readonly string[], newIds: readonly string[], resyncType = 'ssehub-resync'): Verdict {
  const position = new Map<string, { process: 'old' | 'new'; index: number }>();
  oldIds.forEach((id, index) => position.set(id, { process: 'old', index }));
  newIds.forEach((id, index) => position.set(id, { process: 'new', index }));
  const seen = new Set<string>();
  let duplicates = 0;
  let outOfOrder = 0;
  let received = 0;
  let rank = -1;
  let lastOld = -1;
  let lastOldAt = -1;
  let firstNewAt = -1;
  const foreign: string[] = [];
  events.forEach((e, at) => {
    if (e.type !== 'message') return;
    received++;
    const id = e.id ?? '';
    const where = position.get(id);
    if (!where) return void foreign.push(id);
    if (seen.has(id)) duplicates++;
    seen.add(id);
    const r = where.process === 'old' ? where.index : oldIds.length + where.index;
    if (r < rank) outOfOrder++;
    rank = Math.max(rank, r);
    if (where.process === 'old') {
      lastOld = Math.max(lastOld, where.index);
      lastOldAt = at;
    } else if (firstNewAt === -1) firstNewAt = at;
  });
  const oldHoles = oldIds.slice(0, lastOld + 1).filter((id) => !seen.has(id)).length;
  const lastOldId = lastOld >= 0 ? oldIds[lastOld] : undefined;
  let resync: Verdict['resync'];
  let gapSaid = false;
  events.forEach((e, at) => {
    if (e.type !== resyncType || resync) return;
    resync = JSON.parse(e.data) as Verdict['resync'];
    gapSaid =
      resync!.reason === 'restart' &&
      resync!.lastEventId === lastOldId &&
      at > lastOldAt &&
      (firstNewAt === -1 || at < firstNewAt);
  });
  return {
    received,
    duplicates,
    outOfOrder,
    foreign,
    oldHoles,
    oldMissedAtEnd: oldIds.length - 1 - lastOld,
    newMissed: newIds.filter((id) => !seen.has(id)).length,
    lastOldId,
    resync,
    gapSaid,
  };
}

/** Resolves once `check()` (which may be async) holds, polling every 20 ms; rejects saying `what` (a text, or what makes one) after `ms`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string | Promise<string>),
  ms = 15_000,
): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : await what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
