/**
 * The `ssehub` binary as a process: bad configurations end with one line and exit 1, the start-up
 * lines are usable as printed, the environment configures it, logs are JSON lines, and SIGTERM and
 * SIGINT drain it.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HttpStream, failOnUnhandledRejections } from '../../testing/src/clients';
import { OPTIONS } from '../src/config';
import { VERSION } from '../src/version';
import { SERVER_DIR, freePort, killAll, postJson, runSsehub, sh, shBackground, startSsehub, type Finished } from './helpers';

jest.setTimeout(60_000);
failOnUnhandledRejections();
afterAll(killAll);

/** Exit 1 with exactly one line on stderr, `ssehub: ...`, nothing on stdout and no stack trace. */
function expectOneLine(label: string, result: Finished, pattern: RegExp): void {
  expect({ label, code: result.code, stdout: result.stdout }).toEqual({ label, code: 1, stdout: '' });
  expect(result.stderr).toMatch(/^ssehub: [^\n]+\n$/);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('a configuration ssehub cannot use: one line, exit 1', () => {
  let blocker: net.Server;
  let busyPort: number;
  let dir: string;
  beforeAll(async () => {
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    busyPort = (blocker.address() as net.AddressInfo).port;
    dir = mkdtempSync(path.join(os.tmpdir(), 'ssehub-cli-'));
  });
  afterAll(async () => {
    await new Promise((resolve) => blocker.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  test('each case, run in parallel', async () => {
    const closedPort = await freePort();
    const wrongKey = path.join(dir, 'rsa.pem');
    writeFileSync(wrongKey, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }));
    // The message of every option's check is tested in config.test.ts; here, that each way of failing
    // (the arguments, a key only a library can judge, the port, Redis) ends the process the same way.
    const cases: [args: string[], env: Record<string, string>, expected: RegExp][] = [
      [[], {}, /^ssehub: a publish token is required: pass --token <token> \(or set SSEHUB_TOKEN\), or --public/],
      [['--token', 't', '--redis', 'redis//127.0.0.1:6379'], {}, /--redis is not a URL: "redis\/\/127\.0\.0\.1:6379"/],
      [['--token', 't'], { SSEHUB_REDIS_URL: 'http://127.0.0.1:6379' }, /SSEHUB_REDIS_URL must start with redis:\/\/ or rediss:\/\//],
      [['--token', 't', '--port', String(busyPort)], {}, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busyPort}: the port is already in use`)],
      [['--token', 't', '--redis', `redis://127.0.0.1:${closedPort}`, '--redis-connect-timeout', '800'], {}, new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${closedPort}`)],
      [['--tokn', 't'], {}, /Unknown option '--tokn'/],
      [['--token', 't', '--jwt-public-key', wrongKey, '--jwt-alg', 'ES256'], {}, /--jwt-public-key cannot be used with ES256/],
    ];
    const results = await Promise.all(cases.map(([args, env]) => runSsehub(args, env)));
    results.forEach((result, i) => expectOneLine(cases[i]![0].join(' '), result, cases[i]![2]));
  });
});

test('--help lists every flag and variable with its default; --version prints the version', async () => {
  const [help, version] = await Promise.all([runSsehub(['--help']), runSsehub(['--version'])]);
  expect(help.code).toBe(0);
  for (const o of OPTIONS) {
    expect(help.stdout).toContain(`--${o.flag}`);
    expect(help.stdout).toContain(`env: ${o.env.join(', ')}; default: ${o.defaultText}`);
  }
  expect(version).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
});

test("the package's start script (what `pnpm --filter @ssehub/server start` runs) serves from the sources and stops on SIGTERM", async () => {
  const { scripts, bin } = JSON.parse(readFileSync(path.join(SERVER_DIR, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
  expect(bin).toEqual({ ssehub: './dist/cli.js' });
  // As pnpm runs a script: in the package, with its node_modules/.bin on the PATH (tsx's wrapper relays signals).
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.join(SERVER_DIR, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}` };
  for (const k of Object.keys(env)) if (k.startsWith('SSEHUB_')) delete env[k];
  const child = spawn('sh', ['-c', `exec ${scripts.start} --port 0 --public`], { cwd: SERVER_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const until = Date.now() + 45_000;
    while (!/listening on (http:\/\/\S+)/.test(err)) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`the start script did not start:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = /listening on (http:\/\/\S+)/.exec(err)![1]!;
    expect((await postJson(`${url}/all`, { data: 'hi' })).status).toBe(201);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('"msg":"stopped"');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

describe('a running ssehub', () => {
  test('prints its URL and commands that work as pasted; logs JSON lines; drains on SIGTERM', async () => {
    const token = 'paste-me-token';
    const server = await startSsehub(['--drain', '300'], { SSEHUB_TOKEN: token });
    const banner = server.stderr();
    expect(banner).toContain(`ssehub ${VERSION} listening on ${server.url}`);
    // The banner never holds the secret: the command reads it from the shell.
    expect(banner).not.toContain(token);
    const subscribe = /subscribe: (curl -N \S+)/.exec(banner)![1]!;
    const publish = /publish: +(curl .+)$/m.exec(banner)![1]!;
    const channels = /channels: +(curl .+)$/m.exec(banner)![1]!;

    const subscriber = shBackground(subscribe);
    const until = Date.now() + 10_000;
    while (!(await sh(channels, { SSEHUB_TOKEN: token })).stdout.includes('X-Consumer-Count: 1')) {
      if (Date.now() > until) throw new Error('the pasted subscribe command never connected');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await sh(publish, { SSEHUB_TOKEN: '' })).stdout).toBe('{"error":"a bearer token is required"}');
    expect((await sh(publish, { SSEHUB_TOKEN: 'wrong' })).stdout).toBe('{"error":"the bearer token is not accepted"}');
    const published = await sh(publish, { SSEHUB_TOKEN: token });
    expect(published.code).toBe(0);
    const { id } = JSON.parse(published.stdout) as { id: string };

    // stdout is one JSON object per line: the listening record says what the server serves.
    const listening = server.logs().find((l) => l.msg === 'ssehub listening')!;
    expect(listening).toMatchObject({ level: 30, url: server.url, port: server.port, publish: 'token', subscribe: 'open' });
    expect(server.stdout().trim().split('\n').every((l) => l.startsWith('{') && l.endsWith('}'))).toBe(true);

    // SIGTERM: the open stream is ended (the subscriber's curl ends cleanly), then the process exits 0.
    expect(await server.stop('SIGTERM')).toBe(0);
    const done = await subscriber.done;
    expect(done.code).toBe(0);
    // Every stream opens with a lone ":" line (a comment, so nginx forwards the headers at once), then the event.
    expect(done.stdout).toBe(`:\nid: ${id}\nevent: my-event\ndata: Hello World!\n\n`);
    const messages = server.logs().map((l) => l.msg);
    expect(messages).toEqual(expect.arrayContaining(['shutting down: ending the streams, clients reconnect elsewhere', 'stopped']));
    expect(server.logs().find((l) => l.msg?.toString().startsWith('shutting down'))).toMatchObject({ signal: 'SIGTERM', streams: 1 });
  });

  test('SIGINT drains too: the streams end one after another over --drain, then the process exits 0', async () => {
    const server = await startSsehub(['--public', '--drain', '1500']);
    const streams = await Promise.all([1, 2, 3].map(() => HttpStream.open(`${server.url}/events`)));
    const ends: number[] = [];
    for (const s of streams) s.res.once('close', () => ends.push(Date.now()));
    const sent = Date.now();
    server.child.kill('SIGINT');
    await Promise.all(streams.map((s) => s.waitForEnd(5000)));
    expect(await server.exited).toBe(0);
    // Spread, not all at once (three streams over 1500 ms: about 500 ms apart), and within the window.
    expect(Math.max(...ends) - Math.min(...ends)).toBeGreaterThanOrEqual(400);
    expect(Math.max(...ends) - sent).toBeLessThan(3000);
    expect(server.logs().find((l) => String(l.msg).startsWith('shutting down'))).toMatchObject({ signal: 'SIGINT', streams: 3, within: 1500 });
  });

  test('configured from the environment; flags win over it', async () => {
    const origin = 'http://app.example.test';
    const server = await startSsehub(['--retry', '99'], {
      SSEHUB_TOKEN: 'one, two',
      SSEHUB_RETRY: '1234',
      SSEHUB_CORS_ORIGINS: origin,
      SSEHUB_MAX_CLIENTS: '1',
      SSEHUB_LOG_LEVEL: 'debug',
      SSEHUB_HOST: '127.0.0.1',
    });
    try {
      // Two tokens from one comma-separated variable.
      for (const token of ['one', 'two']) {
        expect((await postJson(`${server.url}/api/broadcast`, { data: token }, { Authorization: `Bearer ${token}` })).status).toBe(201);
      }
      // CORS from SSEHUB_CORS_ORIGINS: allowed origin echoed, another refused.
      const stream = await HttpStream.open(`${server.url}/events?id=cli-test`, { Origin: origin });
      expect(stream.status).toBe(200);
      expect(stream.res.headers['access-control-allow-origin']).toBe(origin);
      // --retry 99 beats SSEHUB_RETRY=1234.
      await new Promise((r) => setTimeout(r, 100));
      expect(stream.retries).toEqual([99]);
      // SSEHUB_MAX_CLIENTS=1: a second stream is refused for now.
      const second = await fetch(`${server.url}/events`, { headers: { Accept: 'text/event-stream' } });
      expect(second.headers.get('x-ssehub-refused')).toBe('hub-full');
      await second.text();
      // Preflights on the railsmechanic route allow what its methods need.
      const preflight = await fetch(`${server.url}/updates`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
      expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST, DELETE, OPTIONS');
      expect(preflight.headers.get('access-control-allow-headers')).toBe('Last-Event-ID, Authorization, Content-Type, Auth-Token');
      const refusedPreflight = await fetch(`${server.url}/updates`, { method: 'OPTIONS', headers: { Origin: 'http://elsewhere.test', 'Access-Control-Request-Method': 'POST' } });
      expect(refusedPreflight.status).toBe(403);
      const foreign = await fetch(`${server.url}/events`, { headers: { Origin: 'http://elsewhere.test' } });
      expect(foreign.status).toBe(403);
      await foreign.text();
      stream.close();
      // SSEHUB_LOG_LEVEL=debug: the hub's own logger writes through pino.
      const until = Date.now() + 5000;
      while (!server.logs().some((l) => l.msg === 'ssehub: disconnect')) {
        if (Date.now() > until) throw new Error(`no disconnect record in:\n${server.stdout()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(server.logs().find((l) => l.msg === 'ssehub: connect')).toMatchObject({ level: 20, clientId: 'cli-test' });
      // Request records carry the path, never the query (where a subscriber's token may be).
      expect(server.logs().some((l) => l.msg === 'request' && l.path === '/events')).toBe(true);
      expect(server.stdout()).not.toContain('id=cli-test');
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
