/** hub.drain()'s schedule, driven on a fake clock with a fake hub and server (policy in hub/drain.ts). */
import { drain, type ClosableServer, type DrainHost } from '../src/hub/drain';
import type { Connection } from '../src/hub/connection';

class FakeHost implements DrainHost {
  ended: { name: string; at: number }[] = [];
  closedAt: number | undefined;
  closed = false;
  constructor(
    private open: string[],
    private readonly t0 = Date.now(),
  ) {}
  connections(): Connection[] {
    return [...this.open] as unknown as Connection[];
  }
  end(c: Connection): void {
    this.ended.push({ name: c as unknown as string, at: Date.now() - this.t0 });
  }
  async close(): Promise<void> {
    this.closed = true;
    this.closedAt = Date.now() - this.t0;
  }
}

class FakeServer implements ClosableServer {
  calls: string[] = [];
  private done: (() => void) | undefined;
  constructor(private readonly t0 = Date.now()) {}
  close(callback?: () => void): void {
    this.calls.push(`close@${Date.now() - this.t0}`);
    this.done = callback;
  }
  closeIdleConnections(): void {
    this.calls.push(`idle@${Date.now() - this.t0}`);
  }
  closeAllConnections(): void {
    this.calls.push(`all@${Date.now() - this.t0}`);
  }
  /** The last connection ended: node calls close's callback. */
  finish(): void {
    this.done?.();
  }
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`);

beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
afterEach(() => {
  jest.useRealTimers();
  jest.restoreAllMocks();
});

/** Runs a drain to its end on the fake clock. */
async function run(p: Promise<void>, ms = 60_000): Promise<void> {
  let done = false;
  void p.then(() => (done = true));
  for (let t = 0; t < ms && !done; t += 10) await jest.advanceTimersByTimeAsync(10);
  await p;
}

describe('drain', () => {
  it('ends one stream every within/n ms, then closes the hub', async () => {
    const host = new FakeHost(names(10));
    await run(drain(host, { within: 1000 }));
    expect(host.ended.map((e) => e.at)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    expect(host.closedAt).toBe(900);
  });

  it('ends several streams a tick when there are more than ticks, never faster than every 10 ms', async () => {
    const host = new FakeHost(names(400));
    await run(drain(host, { within: 1000 }));
    const at = host.ended.map((e) => e.at);
    expect(at).toHaveLength(400);
    expect(new Set(at).size).toBe(101); // a tick every 10 ms, 0 to 1000
    expect(at.filter((t) => t === 0)).toHaveLength(1);
    expect(at.filter((t) => t === 500)).toHaveLength(4);
    expect(Math.max(...at)).toBe(1000);
    expect(host.closedAt).toBe(1000);
  });

  it('ticks at most every 100 ms with few streams', async () => {
    const host = new FakeHost(names(2));
    await run(drain(host, { within: 1000 }));
    // The second is due at 500 ms; a tick every 100 ms finds it then.
    expect(host.ended.map((e) => e.at)).toEqual([0, 500]);
  });

  it('ends every stream at once with within: 0', async () => {
    const host = new FakeHost(names(5));
    await run(drain(host, { within: 0 }));
    expect(host.ended.map((e) => e.at)).toEqual([0, 0, 0, 0, 0]);
    expect(host.closedAt).toBe(0);
  });

  it('closes at once with no streams (default within, 5000 ms)', async () => {
    const host = new FakeHost([]);
    await run(drain(host, {}));
    expect(host.ended).toEqual([]);
    expect(host.closedAt).toBe(0);
  });

  it('spreads the default 5000 ms', async () => {
    const host = new FakeHost(names(5));
    await run(drain(host, {}));
    expect(host.ended.map((e) => e.at)).toEqual([0, 1000, 2000, 3000, 4000]);
  });

  it('ends streams in random order (Fisher-Yates)', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0);
    const host = new FakeHost(['a', 'b', 'c', 'd']);
    await run(drain(host, { within: 0 }));
    expect(host.ended.map((e) => e.name)).toEqual(['b', 'c', 'd', 'a']);
    jest.spyOn(Math, 'random').mockReturnValue(0.999);
    const kept = new FakeHost(['a', 'b', 'c', 'd']);
    await run(drain(kept, { within: 0 }));
    expect(kept.ended.map((e) => e.name)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('stops ending streams once the hub closed under it', async () => {
    const host = new FakeHost(names(10));
    const p = drain(host, { within: 1000 });
    await jest.advanceTimersByTimeAsync(250);
    host.closed = true;
    await run(p);
    expect(host.ended).toHaveLength(3);
  });

  it('closes the server at once, its idle connections every tick, and all of them grace ms after the hub closed', async () => {
    const host = new FakeHost(names(2));
    const server = new FakeServer();
    await run(drain(host, { within: 200, server, grace: 300 }));
    expect(server.calls).toEqual(['close@0', 'idle@0', 'idle@100', 'idle@100', 'all@400']);
    expect(Date.now() - 1_000_000).toBe(700);
  });

  it('does not wait for the grace once the server has closed', async () => {
    const host = new FakeHost(names(1));
    const server = new FakeServer();
    const p = drain(host, { within: 100, server, grace: 5000 });
    await jest.advanceTimersByTimeAsync(50);
    server.finish();
    await run(p);
    // The hub closed at 0; the server's last connection went at 50: no waiting for the grace.
    expect(server.calls).toEqual(['close@0', 'idle@0', 'idle@0', 'all@50']);
    expect(Date.now() - 1_000_000).toBeLessThan(1000);
  });

  it('refuses a negative or fractional within or grace before doing anything', async () => {
    const host = new FakeHost(names(1));
    await expect(drain(host, { within: -1 })).rejects.toThrow('ssehub: option within must be an integer >= 0, got -1');
    await expect(drain(host, { grace: 0.5 })).rejects.toThrow('ssehub: option grace must be an integer >= 0, got 0.5');
    expect(host.ended).toEqual([]);
    expect(host.closed).toBe(false);
  });
});
