/**
 * The demo page in a real headless Chromium, with its native EventSource, against each example's
 * own server (Express, Koa, Hono).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Client, Delivered } from '@ssehub/core';
import { EXAMPLE_ADAPTERS } from '../src/servers';
import { ARTIFACTS, inPage, launchBrowser, pageState, startExample, texts, until, waitForText, type Example } from './harness';

jest.setTimeout(60_000);

let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

describe.each(EXAMPLE_ADAPTERS)('the demo page on %s', (adapter) => {
  let example: Example;
  let context: BrowserContext;
  let pageErrors: string[];
  let serverErrors: jest.SpyInstance;

  beforeEach(async () => {
    // Koa and Hono report a failed request or a stream error with console.error: none may happen.
    serverErrors = jest.spyOn(console, 'error');
    example = await startExample(adapter);
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    pageErrors = [];
  });

  afterEach(async () => {
    await context?.close();
    await example?.close();
    const logged = serverErrors.mock.calls.map((args) => args.map(String).join(' '));
    serverErrors.mockRestore();
    // A script error on the page, or an error the server logged, fails the test that caused it.
    expect(pageErrors).toEqual([]);
    expect(logged).toEqual([]);
  });

  /** Opens the page as client `id` and waits until its stream is open and the hub has it. */
  async function open(id: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${id}: ${err.message}`));
    await page.goto(`${example.origin}/?id=${id}`);
    await inPage(page, () => window.ssehubDemo?.state === 'open', undefined);
    await until(() => example.demo.hub.clients().some((c) => c.clientId === id), `${id} to connect`);
    return page;
  }

  /** Broadcasts a global marker and waits for `page` to get it: everything sent before it has arrived. */
  async function settle(page: Page, marker: string): Promise<void> {
    example.demo.hub.broadcast({ event: 'chat', data: { text: marker, from: 'test' } });
    await waitForText(page, marker);
  }

  test('receives broadcasts, publishes from the message box, sends private messages and counts clients', async () => {
    const alice = await open('alice');
    const bob = await open('bob');

    // The count of connected clients updates itself on every page.
    await inPage(alice, () => document.getElementById('count')?.textContent === '2', undefined);
    expect((await pageState(alice)).clients.ids).toEqual(['alice', 'bob']);

    // A broadcast from the server arrives with the id the hub gave it, and shows in the feed.
    const id = example.demo.hub.broadcast({ event: 'chat', data: { text: 'hello from the server', from: 'test' } });
    await waitForText(alice, 'hello from the server');
    const got = (await pageState(alice)).events.find((e) => e.data?.text === 'hello from the server');
    expect(got).toMatchObject({ id, type: 'chat', data: { from: 'test' } });
    await expect(alice.locator(`#feed li[data-id="${id}"]`).textContent()).resolves.toContain('hello from the server');

    // The HTTP publish API the example mounts at /api (bearer token) reaches the page too.
    const api = await fetch(`${example.origin}/api/broadcast`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${example.demo.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ event: 'chat', data: { text: 'from the publish API', from: 'curl' } }),
    });
    expect(api.status).toBe(201);
    const { id: apiId } = (await api.json()) as { id: string };
    await waitForText(bob, 'from the publish API');
    expect((await pageState(bob)).events.find((e) => e.data?.text === 'from the publish API')?.id).toBe(apiId);

    // The message box publishes through the server to everyone.
    await alice.fill('#text', 'hi from alice');
    await alice.click('#send');
    await waitForText(bob, 'hi from alice');
    await waitForText(alice, 'hi from alice');
    expect((await pageState(bob)).events.find((e) => e.data?.text === 'hi from alice')?.data.from).toBe('alice');

    // A private message reaches bob's page and not alice's own.
    await alice.selectOption('#to', 'bob');
    await alice.fill('#private-text', 'psst, bob');
    await alice.click('#send-private');
    await waitForText(bob, 'psst, bob');
    expect((await pageState(bob)).events.find((e) => e.data?.text === 'psst, bob')).toMatchObject({
      type: 'private',
      data: { from: 'alice', to: 'bob' },
    });
    await settle(alice, 'marker after the private message');
    expect(await texts(alice)).not.toContain('psst, bob');

    // Bob leaves: alice's count goes back to 1.
    await bob.close();
    await inPage(alice, () => document.getElementById('count')?.textContent === '1', undefined);
    expect((await pageState(alice)).clients.ids).toEqual(['alice']);
  });

  test('a channel switch changes what arrives', async () => {
    const page = await open('carol');
    const hub = example.demo.hub;
    const say = (text: string, channel: string) => hub.broadcast({ event: 'chat', data: { text, from: 'test', channel }, channel });

    await page.selectOption('#channel', 'room-1');
    await until(() => hub.channelSize('room-1') === 1 && hub.size === 1, 'carol on room-1 alone');
    await inPage(page, () => window.ssehubDemo.state === 'open' && window.ssehubDemo.channel === 'room-1', undefined);
    say('room-2 before the switch', 'room-2');
    say('room-1 before the switch', 'room-1');
    await settle(page, 'global 1');
    let seen = await texts(page);
    expect(seen).toContain('room-1 before the switch');
    expect(seen).not.toContain('room-2 before the switch');
    await expect(page.locator('#feed li', { hasText: 'room-1 before the switch' }).locator('.chan').textContent()).resolves.toBe('room-1');

    await page.selectOption('#channel', 'room-2');
    await until(() => hub.channelSize('room-2') === 1 && hub.channelSize('room-1') === 0, 'carol moved to room-2');
    await inPage(page, () => window.ssehubDemo.state === 'open' && window.ssehubDemo.channel === 'room-2', undefined);
    say('room-1 after the switch', 'room-1');
    say('room-2 after the switch', 'room-2');
    await settle(page, 'global 2');
    seen = await texts(page);
    expect(seen).toContain('room-2 after the switch');
    expect(seen).not.toContain('room-1 after the switch');

    // The message box now publishes to room-2.
    await page.fill('#text', 'typed into room-2');
    await page.click('#send');
    await waitForText(page, 'typed into room-2');
    expect((await pageState(page)).events.find((e) => e.data?.text === 'typed into room-2')?.channel).toBe('room-2');
    expect(hub.lastEventId).toBe((await pageState(page)).lastEventId);
  });

  test('after the server drops the stream, EventSource reconnects with Last-Event-ID and holds every event once, in order', async () => {
    const hub = example.demo.hub;
    // Everything the hub sends from now on, to compare with what the page holds.
    const sent: Delivered[] = [];
    const stop = new AbortController();
    const collecting = (async () => {
      for await (const m of hub.listen({ signal: stop.signal })) sent.push(m);
    })();
    const connects: Pick<Client, 'clientId' | 'lastEventId'>[] = [];
    hub.on('connect', (c) => connects.push({ clientId: c.clientId, lastEventId: c.lastEventId }));

    const page = await open('dave');
    const other = await open('erin');
    await page.fill('#text', 'hello, everyone');
    await page.click('#send');
    await waitForText(page, 'hello, everyone');
    hub.broadcastTo('dave', { event: 'private', data: { text: 'for dave only', from: 'test', to: 'dave' } });
    hub.broadcastTo('erin', { event: 'private', data: { text: 'for erin only', from: 'test', to: 'erin' } });
    hub.broadcast({ event: 'chat', data: { text: 'room-1 only', from: 'test', channel: 'room-1' }, channel: 'room-1' });
    await settle(page, 'before the drop');
    const before = (await pageState(page)).lastEventId;
    expect(before).toBe(hub.lastEventId);

    // The page's button: the server ends dave's stream and broadcasts while it is gone.
    await page.click('#drop');
    await inPage(page, () => window.ssehubDemo.replay?.missed != null, undefined, 10_000);
    // More events while dave is still away (or already back: either way each must arrive once).
    hub.broadcast({ event: 'chat', data: { text: 'also while away', from: 'test' } });
    hub.broadcastTo('dave', { event: 'private', data: { text: 'private while away', from: 'test', to: 'dave' } });
    await inPage(page, () => window.ssehubDemo.replay?.status !== 'pending', undefined, 20_000);
    await waitForText(page, 'private while away');
    await settle(page, 'after the reconnect');

    const state = await pageState(page);
    expect(state.replay?.status).toBe('ok');
    expect(state.reconnects).toBe(1);
    // The browser's own reconnect carried the last id it had seen.
    const daves = connects.filter((c) => c.clientId === 'dave');
    expect(daves).toEqual([
      { clientId: 'dave', lastEventId: undefined },
      { clientId: 'dave', lastEventId: before },
    ]);

    // Every event meant for dave, exactly once and in the hub's order: none missing, none twice.
    stop.abort();
    await collecting;
    const forDave = sent.filter((m) => (m.channel === undefined && m.clientId === undefined) || m.clientId === 'dave');
    expect(state.events.map((e) => e.id)).toEqual(forDave.map((m) => m.id));
    expect(state.events.map((e) => e.type)).toEqual(forDave.map((m) => m.event));
    expect(state.duplicates).toBe(0);
    expect(state.disorder).toBe(0);
    const replayed = state.events.filter((e) => e.replayed).map((e) => e.id);
    for (const id of state.replay!.missed!) expect(replayed).toContain(id);
    await expect(page.locator('#feed li.replayed').count()).resolves.toBe(replayed.length);
    await expect(page.locator('#replay').textContent()).resolves.toContain('each once and in order');
    expect(await texts(page)).not.toContain('for erin only');
    expect(await texts(page)).not.toContain('room-1 only');

    // The other page was never dropped: it saw the missed events live.
    const erin = await pageState(other);
    expect(erin.reconnects).toBe(0);
    for (const id of state.replay!.missed!) expect(erin.events.map((e) => e.id)).toContain(id);

    // What a new user sees, for a person to look at.
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `demo-${adapter}.png`);
    await page.screenshot({ path: file, fullPage: true });
    const png = readFileSync(file);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.length).toBeGreaterThan(10_000);
  });
  test('when the history no longer reaches back, the page is told so (ssehub-resync) instead of getting part of it', async () => {
    await example.close();
    example = await startExample(adapter, { history: 2, retry: 250 });
    const hub = example.demo.hub;
    const page = await open('frank');
    const before = (await pageState(page)).lastEventId;
    expect(before).toBe(hub.lastEventId);

    // The drop publishes four events (the new count and three messages): more than the history keeps.
    await page.click('#drop');
    await inPage(page, () => window.ssehubDemo.replay?.status === 'gap', undefined, 20_000);
    await settle(page, 'after the resync');

    const state = await pageState(page);
    expect(state.reconnects).toBe(1);
    const resync = state.events.filter((e) => e.type === 'ssehub-resync');
    expect(resync).toHaveLength(1);
    expect(resync[0]!.data).toEqual({ reason: 'expired', lastEventId: before, hubLastEventId: resync[0]!.id });
    // None of the missed messages arrived: no partial history passed off as complete. The resync
    // event carries the head's id, so the next reconnect resumes from there.
    expect(state.replay!.missed).toHaveLength(3);
    expect((await texts(page)).filter((t) => t.includes('was disconnected'))).toEqual([]);
    expect(resync[0]!.id).toBe(state.replay!.missed![2]);
    expect(state.duplicates).toBe(0);
    expect(state.disorder).toBe(0);
    await expect(page.locator('#replay').textContent()).resolves.toContain('ssehub-resync');
  });
});
