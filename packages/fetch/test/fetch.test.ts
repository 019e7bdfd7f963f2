/**
 * @ssehub/fetch's handlers called the way a Fetch runtime calls them, with real `Request`s, reading
 * the real `Response` bodies: what each method and path is answered, release when the body is
 * cancelled or the request aborts, backpressure through the stream's desired size, and a built
 * package whose types need no `@types/node`. Over real servers: packages/testing (Node, through a
 * bridge) and runtimes.test.ts (the real Bun and Deno).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHub, type Hub } from '@ssehub/core';
import { publish, sse } from '@ssehub/fetch';
import { waitUntil } from '../../testing/src/clients';

const ORIGIN = 'http://app.example';
let hub: Hub;
beforeEach(() => {
  hub = createHub({ heartbeat: 0 });
});
afterEach(async () => {
  await hub.close();
});

const text = (chunk: Uint8Array | undefined) => new TextDecoder().decode(chunk);

describe('sse(hub)', () => {
  it('answers GET with the stream, its headers and the lead at once, then the events', async () => {
    const res = await sse(hub)(new Request(`${ORIGIN}/events?id=a&channel=room`));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    const reader = res.body!.getReader();
    expect(text((await reader.read()).value)).toBe(':\n');
    expect(hub.clients().map((c) => [c.clientId, [...c.channels]])).toEqual([['a', ['room']]]);
    const id = hub.broadcast({ data: 'hi', channel: 'room' });
    expect(text((await reader.read()).value)).toBe(`id: ${id}\ndata: hi\n\n`);
    await reader.cancel();
    await waitUntil(() => hub.size === 0, 'the cancelled body to release the stream');
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'])('answers %s with 405 and Allow: GET, registering nothing', async (method) => {
    const res = await sse(hub)(new Request(`${ORIGIN}/events`, { method }));
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(await res.text()).toBe('');
    expect(hub.size).toBe(0);
  });

  it('with cors, answers the preflight and says OPTIONS is allowed in its 405s', async () => {
    const handler = sse(hub, { cors: { origins: ['https://page.example'] } });
    const ok = await handler(
      new Request(`${ORIGIN}/events`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://page.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'last-event-id' },
      }),
    );
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://page.example');
    expect(ok.headers.get('access-control-allow-headers')).toBe('Last-Event-ID');
    const evil = await handler(new Request(`${ORIGIN}/events`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example' } }));
    expect(evil.status).toBe(403);
    const post = await handler(new Request(`${ORIGIN}/events`, { method: 'POST' }));
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, OPTIONS');
    expect(hub.size).toBe(0);
  });

  it('hands the Request to the resolvers and authorize', async () => {
    const handler = sse(hub, {
      authorize: (request) => (request.headers.get('authorization') === 'Bearer t' ? { clientId: 'from-token' } : { status: 401, message: 'log in' }),
    });
    const refused = await handler(new Request(`${ORIGIN}/events`));
    expect(refused.status).toBe(401);
    expect(await refused.text()).toBe('ssehub: log in\n');
    const res = await handler(new Request(`${ORIGIN}/events?id=forged`, { headers: { Authorization: 'Bearer t' } }));
    expect(res.status).toBe(200);
    expect(hub.clients()[0]!.clientId).toBe('from-token');
    await res.body!.cancel();
  });

  it('releases the stream when the request aborts, and registers nothing for one aborted before it opened', async () => {
    const ctrl = new AbortController();
    const res = await sse(hub)(new Request(`${ORIGIN}/events`, { signal: ctrl.signal }));
    expect(res.status).toBe(200);
    expect(hub.size).toBe(1);
    ctrl.abort();
    await waitUntil(() => hub.size === 0, 'the aborted request to release the stream');
    const done = await res.body!.getReader().read();
    expect(done.done || text(done.value) === ':\n').toBe(true);

    const gone = new AbortController();
    gone.abort();
    let connects = 0;
    hub.on('connect', () => connects++);
    const late = await sse(hub)(new Request(`${ORIGIN}/events`, { signal: gone.signal }));
    expect(late.status).toBe(200);
    await waitUntil(() => hub.size === 0, 'the stream of a request already gone to be dropped');
    expect(connects).toBeLessThanOrEqual(1);
  });

  it("follows the stream's desired size: a reader that stops reading is evicted, one that reads gets everything", async () => {
    hub = createHub({ heartbeat: 0, maxBufferedBytes: 256 * 1024, timeout: 10_000 });
    const evicted: string[] = [];
    hub.on('evict', (c, reason) => evicted.push(`${c.clientId}:${reason}`));
    const stalled = await sse(hub)(new Request(`${ORIGIN}/events?id=stalled`));
    const reading = await sse(hub)(new Request(`${ORIGIN}/events?id=reading`));
    const reader = reading.body!.getReader();
    let received = '';
    const pump = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        received += text(value);
      }
    })();
    const payload = 'x'.repeat(8 * 1024);
    let sent = 0;
    // Never read, the stalled body keeps 64 KiB queued and the rest waits in the hub, up to 256 KiB.
    while (evicted.length === 0 && sent < 200) {
      hub.broadcast({ data: payload });
      sent++;
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(evicted).toEqual(['stalled:buffer']);
    // Evicted once about maxBufferedBytes were held for it, and not before.
    expect(sent).toBeGreaterThanOrEqual(256 / 8);
    expect(sent).toBeLessThan(256 / 8 + 8);
    await waitUntil(() => received.split(payload).length - 1 === sent, 'every event on the reading stream');
    expect(hub.clients().map((c) => c.clientId)).toEqual(['reading']);
    await reader.cancel();
    await pump;
    expect(stalled.bodyUsed).toBe(false);
  });
});

describe('publish(hub, options)', () => {
  const api = () => publish(hub, { prefix: '/api', token: 'secret' });
  const auth = { Authorization: 'Bearer secret' };

  it('publishes and answers the API under its prefix', async () => {
    const stream = await sse(hub)(new Request(`${ORIGIN}/events`));
    const reader = stream.body!.getReader();
    await reader.read();
    const res = await api()(
      new Request(`${ORIGIN}/api/broadcast`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: '{"data":"hi"}' }),
    );
    expect(res.status).toBe(201);
    const { id, consumers } = (await res.json()) as { id: string; consumers: number };
    expect(consumers).toBe(1);
    expect(text((await reader.read()).value)).toBe(`id: ${id}\ndata: hi\n\n`);
    const head = await api()(new Request(`${ORIGIN}/api`, { method: 'HEAD', headers: auth }));
    expect(head.headers.get('x-consumer-count')).toBe('1');
    await reader.cancel();
  });

  it('answers 404 JSON for paths outside the API (there is no next handler), with no body for HEAD', async () => {
    for (const url of [`${ORIGIN}/`, `${ORIGIN}/elsewhere`, `${ORIGIN}/apix/broadcast`, `${ORIGIN}/api/nope`, `${ORIGIN}/api/channels`]) {
      const res = await api()(new Request(url, { method: 'POST', headers: auth }));
      expect([url, res.status]).toEqual([url, 404]);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await res.json()).toEqual({ error: 'no such route' });
    }
    const head = await api()(new Request(`${ORIGIN}/elsewhere`, { method: 'HEAD' }));
    expect(head.status).toBe(404);
    expect(await head.text()).toBe('');
    expect(hub.lastEventId).toBeUndefined();
  });

  it('refuses to be created without an access check or with a malformed prefix', () => {
    expect(() => publish(hub, {})).toThrow(TypeError);
    expect(() => publish(hub, { public: true, prefix: 'api' })).toThrow(TypeError);
    expect(() => publish(hub, { public: true, prefix: '/api/' })).toThrow(TypeError);
  });
});

describe('the built packages', () => {
  const root = path.resolve(__dirname, '../../..');
  const build = (pkg: string, entries: string[]) =>
    execFileSync(process.execPath, [require.resolve('tsup/dist/cli-default.js', { paths: [root] }), ...entries, '--format', 'esm,cjs', '--dts', '--clean', '--tsconfig', 'tsconfig.build.json', '--silent'], {
      cwd: path.join(root, 'packages', pkg),
      stdio: 'pipe',
    });

  it('declare no node: module and no Node type, and an app with no @types/node typechecks against them', () => {
    build('core', ['src/index.ts', 'src/adapter.ts', 'src/adapter-node.ts']);
    build('fetch', ['src/index.ts']);
    const dist = path.join(root, 'packages/fetch/dist');
    const dts = readdirSync(dist).filter((f) => /\.d\.m?ts$/.test(f));
    expect(dts.sort()).toEqual(['index.d.mts', 'index.d.ts']);
    for (const f of dts) {
      const src = readFileSync(path.join(dist, f), 'utf8');
      expect(src).toMatch(/declare function sse\(hub: Hub<any>, options\?: SseOptions\): FetchHandler/);
      expect(src).not.toMatch(/node:|NodeJS|\bBuffer\b|reference types="node"/);
    }
    // The runtime code imports nothing but @ssehub/core's adapter entry.
    const js = readFileSync(path.join(dist, 'index.mjs'), 'utf8');
    expect([...js.matchAll(/from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]).sort()).toEqual(['@ssehub/core/adapter']);

    // A Next.js-style route module, typechecked with DOM types only, against the built packages.
    const app = mkdtempSync(path.join(os.tmpdir(), 'ssehub-fetch-types-'));
    try {
      mkdirSync(path.join(app, 'node_modules/@ssehub'), { recursive: true });
      for (const pkg of ['core', 'fetch']) symlinkSync(path.join(root, 'packages', pkg), path.join(app, 'node_modules/@ssehub', pkg));
      writeFileSync(
        path.join(app, 'route.ts'),
        [
          "import { createHub } from '@ssehub/core';",
          "import { publish, sse, type FetchHandler } from '@ssehub/fetch';",
          'const hub = createHub();',
          "export const GET: FetchHandler = sse(hub, { authorize: (request) => request.headers.has('cookie') });",
          "export const POST = publish(hub, { prefix: '/api', token: 'x' });",
          '',
        ].join('\n'),
      );
      const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
      const typecheck = (file: string, module: string, moduleResolution: string) => {
        // `types: []`: no @types package is loaded, @types/node least of all.
        const compilerOptions = { noEmit: true, strict: true, target: 'ES2022', lib: ['ES2022', 'DOM'], types: [], skipLibCheck: false, module, moduleResolution };
        writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: [file] }));
        try {
          execFileSync(process.execPath, [tsc, '-p', '.'], { cwd: app, stdio: 'pipe', encoding: 'utf8' });
        } catch (err) {
          throw new Error(`tsc: ${(err as { stdout?: string }).stdout}`);
        }
      };
      expect(() => typecheck('route.ts', 'esnext', 'bundler')).not.toThrow();
      expect(() => typecheck('route.ts', 'node16', 'node16')).not.toThrow();
      // The same check fails on a real mistake, so it does look at the types.
      writeFileSync(path.join(app, 'wrong.ts'), "import { sse } from '@ssehub/fetch';\nexport const GET: (r: Request) => Promise<string> = sse({} as never);\n");
      expect(() => typecheck('wrong.ts', 'esnext', 'bundler')).toThrow(/TS2322/);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  }, 120_000);
});
