/**
 * The demo page's live hub panel, in a real headless Chromium against each example's own server: it
 * polls GET /demo/stats (hub.stats() and hub.health()) every second and shows the open streams,
 * events per second with a sparkline of the last minute, replays, gaps, evictions and refusals.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { HubHealth, HubStats } from '@ssehub/core';
import { HttpStream } from '../src/clients';
import { ARTIFACTS, EXAMPLES, inPage, launchBrowser, startExample, until, waitForText, type Example } from './harness';

jest.setTimeout(60_000);

/** What the page keeps of the panel in `window.ssehubDemo.hub` (see examples/shared/public/demo.js). */
interface Panel {
  polls: number;
  stats: HubStats | null;
  health: HubHealth | null;
  rate: number | null;
  rates: number[];
  error: string | null;
}

const panel = (page: Page): Promise<Panel> =>
  page.evaluate(() => JSON.parse(JSON.stringify((window.ssehubDemo as unknown as { hub: Panel }).hub)) as Panel);
const shown = (page: Page, id: string): Promise<string> => page.locator(`#${id}`).innerText();

/** Resolves once the panel shows `text` in the figure `id`. */
function showing(page: Page, id: string, text: string, timeout = 10_000): Promise<void> {
  return inPage(page, ([i, t]) => document.getElementById(i)?.textContent === t, [id, text] as const, timeout);
}

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe.each(EXAMPLES)('the hub panel on %s', (adapter) => {
  let example: Example;
  let context: BrowserContext;
  let pageErrors: string[];
  let serverErrors: jest.SpyInstance;
  const streams: HttpStream[] = [];

  beforeEach(async () => {
    serverErrors = jest.spyOn(console, 'error');
    example = await startExample(adapter);
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    pageErrors = [];
  });

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await context?.close();
    await example?.close();
    const logged = serverErrors.mock.calls.map((args) => args.map(String).join(' '));
    serverErrors.mockRestore();
    expect(pageErrors).toEqual([]);
    expect(logged).toEqual([]);
  });

  async function open(id: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${id}: ${err.message}`));
    await page.goto(`${example.origin}/?id=${id}`);
    await inPage(page, () => window.ssehubDemo?.state === 'open', undefined);
    await until(() => example.demo.hub.clients().some((c) => c.clientId === id), `${id} to connect`);
    return page;
  }

  test('shows the open streams, events/s rising with broadcasts, a sparkline of them, and the replay after a drop', async () => {
    const hub = example.demo.hub;
    const page = await open('alice');
    await showing(page, 'hub-connections', '1');
    expect((await shown(page, 'hub-ready')).trim()).toBe('ready');

    // A second page: the first one's panel follows.
    const bob = await open('bob');
    await showing(page, 'hub-connections', String(hub.size));
    expect(hub.size).toBe(2);

    // A burst of broadcasts between two polls: the rate and the sparkline rise, then fall back.
    await inPage(page, () => (window.ssehubDemo as any).hub.rates.length >= 2, undefined);
    const n = 80;
    for (let i = 0; i < n; i++) hub.broadcast({ event: 'chat', data: { text: `burst ${i}`, from: 'test' } });
    await waitForText(page, `burst ${n - 1}`);
    // The poll after the burst: its rate is the peak of the minute (read from the history, since a
    // slow machine may deliver the burst to this page a poll or two later).
    await inPage(page, () => Math.max(0, ...(window.ssehubDemo as any).hub.rates) >= 20, undefined);
    // Read in one go, between two polls: the page's state and what it drew from it.
    const seen = await page.evaluate(() => ({
      panel: JSON.parse(JSON.stringify((window.ssehubDemo as any).hub)) as Panel,
      rate: document.getElementById('hub-rate')!.textContent,
      peak: document.getElementById('hub-peak')!.textContent,
      points: document.querySelector('#sparkline .line')!.getAttribute('points')!,
      area: document.querySelector('#sparkline .area')!.getAttribute('d')!,
    }));
    // The figures show the latest rate (one decimal under 10, whole numbers above) and the peak.
    const fmt = (r: number) => (r < 10 ? r.toFixed(1) : String(Math.round(r)));
    expect(seen.rate).toBe(fmt(seen.panel.rate!));
    expect(seen.peak).toBe(fmt(Math.max(...seen.panel.rates)));
    expect(Number(seen.peak)).toBeGreaterThanOrEqual(20);
    const points = seen.points.trim().split(' ');
    expect(points.length).toBe(seen.panel.rates.length);
    const ys = points.map((p) => Number(p.split(',')[1]));
    expect(Math.min(...ys)).toBeLessThan(10); // the peak reaches the top of the 48-unit-high box
    expect(Math.max(...ys)).toBeGreaterThan(40); // quiet seconds lie along the bottom
    expect(seen.area).toMatch(/^M[\d.]+,48 L.* Z$/);
    // Quiet again: the next polls show 0, and the panel has counted every event the hub has.
    await showing(page, 'hub-rate', '0.0');
    expect((await panel(page)).stats!.events).toBe(hub.stats().events);

    // The page's "Drop my connection": the replay shows on the panel as the hub counted it.
    expect(await shown(page, 'hub-replayed')).toBe('0');
    await page.click('#drop');
    await inPage(page, () => window.ssehubDemo.replay?.status === 'ok', undefined, 20_000);
    const replayed = hub.stats().eventsReplayed;
    expect(replayed).toBeGreaterThanOrEqual(3);
    await showing(page, 'hub-replayed', String(replayed));

    // Bob leaves: back to one stream. Nothing was evicted, refused or lost.
    await bob.close();
    await showing(page, 'hub-connections', '1');
    const stats = hub.stats();
    expect(await shown(page, 'hub-evictions')).toBe(String(stats.evictions.timeout + stats.evictions.buffer));
    expect(await shown(page, 'hub-refusals')).toBe('0');
    expect(await shown(page, 'hub-gaps')).toBe('0');
    const last = await panel(page);
    expect(last.error).toBeNull();
    expect(last.polls).toBeGreaterThanOrEqual(4);
    expect(last.health).toMatchObject({ ready: true, state: 'open' });

    mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `demo-panel-${adapter}.png`);
    await page.locator('#hub-panel').screenshot({ path: file });
    await page.screenshot({ path: path.join(ARTIFACTS, `demo-with-panel-${adapter}.png`), fullPage: true });
    const png = readFileSync(file);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  test('counts a gap the history could not fill, and says "not ready" while the hub drains', async () => {
    await example.close();
    example = await startExample(adapter, { history: 2, retry: 250 });
    const hub = example.demo.hub;
    const page = await open('frank');
    await showing(page, 'hub-gaps', '0');
    // The drop publishes more than the history keeps: the reconnect is a gap (ssehub-resync).
    await page.click('#drop');
    await inPage(page, () => window.ssehubDemo.replay?.status === 'gap', undefined, 20_000);
    expect(hub.stats().gaps.expired).toBe(1);
    await showing(page, 'hub-gaps', '1');

    // More streams, so the drain (which ends them one by one over 3 s) lasts past a poll or two.
    for (let i = 0; i < 10; i++) streams.push(await HttpStream.open(`${example.origin}/events`));
    await until(() => hub.size === 11, 'eleven streams');
    const drained = hub.drain({ within: 3000 });
    await showing(page, 'hub-ready', 'not ready');
    expect(await page.locator('#hub-ready').getAttribute('title')).toBe('hub.health(): hub draining');
    await drained;
    await inPage(page, () => document.getElementById('hub-ready')?.title === 'hub.health(): hub closed', undefined);
    expect(await shown(page, 'hub-ready')).toBe('not ready');
  });
});
