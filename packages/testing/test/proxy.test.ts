/**
 * Behind a real nginx: events pass through at once (X-Accel-Buffering), and the heartbeat keeps a
 * quiet stream open past a `proxy_read_timeout` shorter than the silence. Without the heartbeat
 * nginx cuts the same stream, which shows the test can fail.
 */
import { createHub, type Hub } from '@ssehub/core';
import { ADAPTERS, startServer, type TestServer } from '../src/servers';
import { EsClient, failOnUnhandledRejections, sleep } from '../src/clients';
import { Nginx } from '../src/nginx';

failOnUnhandledRejections();
jest.setTimeout(20_000);

describe.each(ADAPTERS)('%s behind nginx', (adapter) => {
  let hub: Hub;
  let server: TestServer;
  let nginx: Nginx;
  let es: EsClient | undefined;

  async function setup(heartbeat: number): Promise<void> {
    hub = createHub({ heartbeat, retry: 200 });
    server = await startServer(adapter, hub);
    nginx = await Nginx.start(server.port, { location: ['proxy_read_timeout 1s;'] });
  }
  afterEach(async () => {
    es?.close();
    es = undefined;
    await hub.close();
    await server.close();
    await nginx.stop();
  });

  it('keeps a quiet stream open past proxy_read_timeout with the heartbeat, and delivers at once', async () => {
    await setup(300);
    es = new EsClient(`${nginx.origin}/events?id=quiet`);
    await es.waitForOpen();
    // Three times nginx's read timeout without an event.
    await sleep(3000);
    const sentAt = Date.now();
    hub.broadcast({ data: 'after the silence' });
    await es.waitForEvents(1);
    expect(Date.now() - sentAt).toBeLessThan(1000);
    expect(es.events[0]!.data).toBe('after the silence');
    expect(es.opens).toBe(1);
    expect(es.errors).toBe(0);
    expect(nginx.errorLog()).not.toMatch(/timed out/);
  });

  it('is cut by nginx after proxy_read_timeout without the heartbeat (what the heartbeat prevents)', async () => {
    await setup(0);
    es = new EsClient(`${nginx.origin}/events?id=quiet`);
    await es.waitForOpen();
    await sleep(2500);
    expect(es.errors).toBeGreaterThan(0);
    expect(nginx.errorLog()).toMatch(/timed out/);
  });
});
