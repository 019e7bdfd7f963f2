/**
 * The readiness and liveness routes each adapter's README shows, read from the README itself and
 * mounted on a real server of that framework: 200 while the hub is open, 503 with the reasons on
 * `/readyz` as soon as it drains (while `/healthz` stays 200), and 503 on both once it is closed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHub, type Hub } from '@ssehub/core';
import { ADAPTERS, startServer, type AdapterName, type Mounts, type TestServer } from '../src/servers';
import { HttpStream, failOnUnhandledRejections, waitUntil } from '../src/clients';

failOnUnhandledRejections();
jest.setTimeout(20_000);

/** The first `ts` code block under the README's "## Health checks" heading. */
function readmeRoutes(adapter: AdapterName): string {
  const readme = readFileSync(path.resolve(__dirname, `../../${adapter}/README.md`), 'utf8');
  const section = readme.split('\n## Health checks\n')[1];
  if (!section) throw new Error(`packages/${adapter}/README.md has no "## Health checks" section`);
  const block = /```ts\n([\s\S]*?)```/.exec(section.split('\n## ')[0]!);
  if (!block) throw new Error(`the Health checks section of packages/${adapter}/README.md has no ts block`);
  return block[1]!;
}

/** Mounts the README's routes: the block is plain JavaScript over `app` (Koa: `router`) and `hub`. */
function mountReadmeRoutes(adapter: AdapterName, hub: Hub): Mounts {
  const mount = new Function('app', 'router', 'hub', readmeRoutes(adapter)) as (app: unknown, router: unknown, hub: Hub) => void;
  return {
    express: (app) => mount(app, undefined, hub),
    koa: (app, router) => mount(app, router, hub),
    hono: (app) => mount(app, undefined, hub),
    fastify: (app) => mount(app, undefined, hub),
    // The Fetch README's block defines two handlers, routed the way a Fetch runtime would.
    fetch: (app) => {
      const handlers = new Function('hub', `${readmeRoutes(adapter)}\nreturn { readyz, healthz };`)(hub) as Record<string, () => Response>;
      app.route('/readyz', handlers.readyz!);
      app.route('/healthz', handlers.healthz!);
    },
  };
}

async function get(server: TestServer, route: string): Promise<{ status: number; type: string | null; body: unknown }> {
  const res = await fetch(`${server.origin}${route}`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
}

describe.each(ADAPTERS)('the health routes of the %s README', (adapter) => {
  let hub: Hub;
  let server: TestServer;
  const streams: HttpStream[] = [];
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await hub.close();
    await server.close();
  });

  it('answer 200 while open; /readyz 503 with the reasons while the hub drains, /healthz 503 once it is closed', async () => {
    hub = createHub({ heartbeat: 0 });
    server = await startServer(adapter, hub, { mount: mountReadmeRoutes(adapter, hub) });
    for (let i = 0; i < 3; i++) streams.push(await HttpStream.open(`${server.origin}/events`));
    await waitUntil(() => hub.size === 3, 'three streams');

    const ready = await get(server, '/readyz');
    expect(ready).toEqual({ status: 200, type: expect.stringMatching(/^application\/json/), body: { ready: true, live: true, state: 'open', reasons: [] } });
    expect(await get(server, '/healthz')).toMatchObject({ status: 200, body: { live: true, state: 'open' } });

    const drained = hub.drain({ within: 1500 });
    expect(await get(server, '/readyz')).toEqual({
      status: 503,
      type: expect.stringMatching(/^application\/json/),
      body: { ready: false, live: true, state: 'draining', reasons: ['hub draining'] },
    });
    expect(await get(server, '/healthz')).toMatchObject({ status: 200, body: { live: true, state: 'draining' } });
    // Still draining: streams are being ended one by one meanwhile.
    expect(hub.state).toBe('draining');

    await drained;
    expect(await get(server, '/readyz')).toMatchObject({ status: 503, body: { ready: false, live: false, state: 'closed', reasons: ['hub closed'] } });
    expect(await get(server, '/healthz')).toEqual({ status: 503, type: expect.stringMatching(/^application\/json/), body: { live: false, state: 'closed' } });
  });
});
