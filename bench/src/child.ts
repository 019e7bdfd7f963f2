import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** A forked bench process (under tsx) and its IPC messages, awaited by type. */
export class Child<In extends { type: string }, Out extends { type: string }> {
  private readonly proc: ChildProcess;
  private readonly inbox: Out[] = [];
  private waiter: { type: string; resolve: (m: Out) => void; reject: (e: Error) => void } | undefined;
  private exited: Error | undefined;

  constructor(file: string, args: string[], readonly name: string) {
    // BENCH_NODE_ARGS adds flags to the children, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    const extra = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    this.proc = fork(path.join(__dirname, file), args, {
      execArgv: ['--import', 'tsx', '--expose-gc', ...extra],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: Out) => {
      if (this.waiter && this.waiter.type === m.type) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(m);
      } else this.inbox.push(m);
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = new Error(`bench: ${name} exited (${code ?? signal})`);
      this.waiter?.reject(this.exited);
      this.waiter = undefined;
    });
  }

  /** Whether the process is still running (send() to an exited one would raise an 'error' event). */
  get alive(): boolean {
    return !this.exited;
  }

  send(msg: In): void {
    this.proc.send(msg);
  }

  /** The next message of `type` (earlier ones of other types are kept), or a rejection after `ms`. */
  next<T extends Out['type']>(type: T, ms = 120_000): Promise<Extract<Out, { type: T }>> {
    const at = this.inbox.findIndex((m) => m.type === type);
    if (at !== -1) return Promise.resolve(this.inbox.splice(at, 1)[0] as Extract<Out, { type: T }>);
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`bench: ${this.name} sent no '${type}' within ${ms} ms`));
      }, ms);
      this.waiter = {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<Out, { type: T }>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Asks the process to exit (it does when IPC closes), kills it after 5 s, resolves once it has exited. */
  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      this.proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.proc.disconnect();
    });
  }
}
