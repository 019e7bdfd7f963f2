/**
 * Each example starts as `pnpm start` runs it (tsx, straight from the TypeScript sources, no build),
 * prints its URL and a curl line for the publish API, serves the page, the stream and that API there,
 * and shuts down cleanly on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

jest.setTimeout(60_000);

const EXAMPLES = path.resolve(__dirname, '../../../examples');
const FRAMEWORK = { express: 'Express', koa: 'Koa', hono: 'Hono', fastify: 'Fastify' } as const;

/** Starts an example's start script on a free port and resolves with the URL it prints. */
function start(name: string): { child: ChildProcess; url: Promise<string>; output: () => string } {
  const cwd = path.join(EXAMPLES, name);
  const child = spawn(process.execPath, [require.resolve('tsx/cli', { paths: [cwd] }), 'src/server.ts'], {
    cwd,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DEMO_TICK_MS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: tsx runs the app in a child of its own, and a failed test kills both.
    detached: true,
  });
  let out = '';
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`example ${name} exited with ${code} before listening:\n${out}`)));
  });
  return { child, url, output: () => out };
}

describe.each(Object.keys(FRAMEWORK) as (keyof typeof FRAMEWORK)[])('examples/%s start script', (name) => {
  test('prints its URL, serves the page and the stream, and stops on SIGTERM', async () => {
    const { child, url: printed, output } = start(name);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const abort = new AbortController();
    try {
      const url = await printed;
      expect(output()).toContain(`ssehub demo (${FRAMEWORK[name]}) listening on http://127.0.0.1:`);

      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      expect(html).toContain(`<title>ssehub demo · ${FRAMEWORK[name]}</title>`);
      const script = await fetch(new URL('/demo.js', url));
      expect(script.status).toBe(200);
      expect(await script.text()).toContain('new EventSource(');

      // The stream: SSE headers, then the hub's retry line and the `clients` event of this connection
      // (the stream's lone ":" lead line first, then the `retry:` line heading the first event's block).
      const res = await fetch(new URL('/events?id=smoke', url), { signal: abort.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const reader = res.body!.getReader();
      let body = '';
      while (!body.includes('"ids":["smoke"]')) {
        const { value, done } = await reader.read();
        if (done) break;
        body += new TextDecoder().decode(value);
      }
      expect(body).toMatch(/^:\nretry: 1000\nid: \d+\nevent: clients\ndata: \{"count":1,"ids":\["smoke"\]\}\n\n/);

      // The printed curl line works: the publish API at /api takes the printed token, and no other.
      const curl = /curl -H 'Authorization: Bearer (\w+)' -H 'Content-Type: application\/json' -d '(.+)' (\S+)$/m.exec(output());
      expect(curl).not.toBeNull();
      const [, token, json, endpoint] = curl!;
      expect(endpoint).toBe(new URL('/api/broadcast', url).href);
      const refused = await fetch(endpoint!, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: json });
      expect(refused.status).toBe(401);
      const sent = await fetch(endpoint!, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: json,
      });
      expect(sent.status).toBe(201);
      const { id } = (await sent.json()) as { id: string };
      while (!body.includes('hello from curl')) {
        const { value, done } = await reader.read();
        if (done) break;
        body += new TextDecoder().decode(value);
      }
      expect(body).toContain(`id: ${id}\nevent: chat\ndata: {"text":"hello from curl","from":"curl"}\n\n`);

      // SIGTERM ends the open stream and the process exits 0.
      child.kill('SIGTERM');
      await expect(reader.read().then(async function drain(r): Promise<boolean> {
        return r.done ? true : drain(await reader.read());
      })).resolves.toBe(true);
      await expect(exited).resolves.toBe(0);
    } finally {
      // A failed expectation must not leave the stream open: jest would never exit.
      abort.abort();
      // SIGKILL to tsx alone would leave the app (its child) holding the pipes, and jest waiting on them.
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
      await exited;
    }
  });
});
