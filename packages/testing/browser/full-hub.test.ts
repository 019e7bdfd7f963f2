/**
 * A full hub, on each adapter, with the app as a real process (packages/testing/fixtures/restart-server.ts
 * with `maxClients: 2`): Chromium's native EventSource and the `eventsource` package, refused while
 * the hub is full, never give up (no CLOSED state, no `error` that ends them), get in by themselves
 * once a slot is free and receive events; and a client the server dropped, refused on reconnect
 * because its slot was taken meanwhile, resumes from its Last-Event-ID once let in: nothing lost.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADAPTERS } from '../src/servers';
import { EsClient, HttpStream } from '../src/clients';
import { AppProcess, Publisher, TOKEN, eventually, freePort, killAll } from '../src/processes';
import { launchBrowser, openEventSources, readEventSources, type PageSource } from './harness';

jest.setTimeout(60_000);

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await killAll();
  await browser?.close();
});

/** Stream requests of one client id the app refused so far: requests the hub did not connect. */
function refused(app: AppProcess, clientId: string): number {
  return app.of('request', clientId).length - app.of('connect', clientId).length;
}

describe.each(ADAPTERS)('%s: a full hub and clients that wait their turn', (adapter) => {
  let app: AppProcess;
  let context: BrowserContext | undefined;
  let page: Page;
  let publisher: Publisher;
  const closers: (() => void)[] = [];

  beforeEach(async () => {
    const port = await freePort();
    // A retry of a second: a client the server drops comes back no sooner, so the test can take its slot first.
    app = AppProcess.start({ ADAPTER: adapter, PORT: port, MAX_CLIENTS: 2, RETRY_MS: 1000, RETRY_AFTER: 1 });
    await app.listening;
    publisher = new Publisher(port);
    context = await browser.newContext();
    page = await context.newPage();
    await page.goto(`${app.origin}/`);
  });

  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await context?.close();
    context = undefined;
    await killAll();
  });

  function es(name: string): EsClient & { errorStates: number[] } {
    const c = Object.assign(new EsClient(`${app.origin}/events?id=${name}`), { errorStates: [] as number[] });
    c.es.addEventListener('error', () => c.errorStates.push(c.es.readyState));
    closers.push(() => c.close());
    return c;
  }
  async function browserSource(name: string): Promise<PageSource> {
    return (await readEventSources(page)).find((s) => s.name === name)!;
  }
  async function publish(text: string): Promise<string> {
    const p = await publisher.publishOnce(0, { text });
    if (p.outcome !== 'accepted') throw new Error(`publish ${text}: ${p.outcome} ${p.detail ?? ''}`);
    return p.id!;
  }

  it("refused EventSources (Chromium's and the eventsource package) keep trying and get in once a slot is free; one dropped and refused on reconnect loses nothing", async () => {
    // Fill the hub.
    const holders = [es('holder-0'), es('holder-1')];
    await eventually(() => app.connected(['holder-0', 'holder-1']), 'two holders');

    // Chromium's EventSource, refused: it is told to come back, and it does, again and again.
    await openEventSources(page, [{ name: 'browser', url: '/events?id=browser' }]);
    await eventually(
      async () => refused(app, 'browser') >= 2 && (await browserSource('browser')).errors >= 2,
      async () => `two refusals of the browser (requests ${app.of('request', 'browser').length}, page ${JSON.stringify(await browserSource('browser'))})`,
    );
    let source = await browserSource('browser');
    expect(app.of('connect', 'browser')).toEqual([]);
    expect(source.errors).toBeGreaterThanOrEqual(2);
    expect(source.errorStates).not.toContain(2);
    expect(source.readyState).not.toBe(2);
    expect(source.events).toEqual([]);

    // A slot frees: it gets in by itself and receives events.
    holders[0]!.close();
    await eventually(() => app.connected(['browser']), 'the browser to get in', 10_000);
    const first = await publish('after the browser got in');
    await eventually(async () => (await browserSource('browser')).events.length >= 1, 'the browser to receive the event');
    source = await browserSource('browser');
    expect(source.events.map((e) => [e.id, JSON.parse(e.data).text])).toEqual([[first, 'after the browser got in']]);
    expect(source.readyState).toBe(1);

    // The eventsource package, refused the same way (the hub is full again), gets in the same way.
    const late = es('late');
    await eventually(
      () => refused(app, 'late') >= 2 && late.errorStates.length >= 2,
      () => `two refusals of the eventsource client (requests ${app.of('request', 'late').length}, readyState at each error ${JSON.stringify(late.errorStates)})`,
    );
    expect(app.of('connect', 'late')).toEqual([]);
    expect(late.errorStates.length).toBeGreaterThanOrEqual(2);
    expect(late.errorStates).not.toContain(2);
    expect(late.events).toEqual([]);
    holders[1]!.close();
    await eventually(() => app.connected(['late']), 'the eventsource client to get in', 10_000);
    const second = await publish('after the eventsource client got in');
    await eventually(() => late.events.length >= 1, 'the eventsource client to receive the event');
    expect(late.events.map((e) => e.id)).toEqual([second]);
    expect(late.es.readyState).toBe(1);

    // Each of them, dropped by the server while another client takes its slot: refused on reconnect,
    // let in later, it resumes from its Last-Event-ID and loses nothing.
    const everything = [first, second];
    for (const name of ['browser', 'late']) {
      const before = app.of('connect', name).length;
      const lastSeen = everything[everything.length - 1]!;
      const refusedBefore = refused(app, name);
      const res = await fetch(`${app.origin}/api/clients/${name}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
      expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { closed: 1 } });
      const filler = await HttpStream.open(`${app.origin}/events?id=filler-${name}`);
      closers.push(() => filler.close());
      expect(filler.res.headers['x-ssehub-refused']).toBeUndefined();
      await eventually(() => app.connected([`filler-${name}`]), 'the filler to take the slot');
      for (let i = 1; i <= 3; i++) everything.push(await publish(`missed by ${name} (${i}/3)`));
      // Its reconnects are refused while the filler holds the slot, and name the last event it got.
      await eventually(() => refused(app, name) >= refusedBefore + 2, `two refused reconnects of ${name}`, 10_000);
      const retries = app.of('request', name).slice(-2);
      expect(retries.map((r) => r.lastEventId)).toEqual([lastSeen, lastSeen]);
      filler.close();
      await eventually(() => app.of('connect', name).length > before, `${name} back in`, 10_000);
      expect(app.of('connect', name).at(-1)!.lastEventId).toBe(lastSeen);
      everything.push(await publish(`after ${name} came back`));
    }
    // Both got every event published since they first got in, once each and in order.
    const browserIds = () => readEventSources(page).then((all) => all.find((s) => s.name === 'browser')!.events.map((e) => e.id));
    const mine = (from: string) => everything.slice(everything.indexOf(from));
    await eventually(async () => (await browserIds()).length >= mine(first).length, 'the browser to have every event').catch(() => undefined);
    await eventually(() => late.events.length >= mine(second).length, 'the eventsource client to have every event').catch(() => undefined);
    expect(await browserIds()).toEqual(mine(first));
    expect(late.events.map((e) => e.id)).toEqual(mine(second));
    source = await browserSource('browser');
    expect(source.errorStates).not.toContain(2);
    expect(late.errorStates).not.toContain(2);
    expect(app.other).toBe('');
  });
});
