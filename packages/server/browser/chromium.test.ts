/**
 * The real `ssehub` binary and Debian's Chromium with its native EventSource, from a page on another
 * origin: CORS, a JWT in the query and one in a cookie (withCredentials), the channels and the client
 * id each token grants (a forged ?id= gets nothing private), a refused stream, and a reconnect with
 * Last-Event-ID after DELETE on the railsmechanic route.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../../testing/browser/harness';
import { hs256, inSeconds, killAll, postJson, startSsehub, type Ssehub } from '../test/helpers';

jest.setTimeout(90_000);

const SECRET = 'browser-test-secret-of-32-bytes-or-more';
const TOKEN = 'browser-publish-token';
const auth = { Authorization: `Bearer ${TOKEN}` };

type Entry = [who: string, type: string, data: string, lastEventId: string];
declare global {
  interface Window {
    received: Entry[];
    states: () => Record<string, number>;
  }
}

let browser: Browser;
let page: Page;
let site: http.Server;
let siteOrigin: string;
let hub: Ssehub;

beforeAll(async () => {
  site = http.createServer((_, res) => res.end('<!doctype html><title>app</title><p>app'));
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteOrigin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  [hub, browser] = await Promise.all([
    startSsehub(['--token', TOKEN, '--jwt-secret', SECRET, '--cors', siteOrigin, '--cors-credentials', '--retry', '300']),
    launchBrowser(),
  ]);
  page = await (await browser.newContext()).newPage();
  await page.goto(siteOrigin);
});

afterAll(async () => {
  await browser?.close();
  if (hub) expect(await hub.stop()).toBe(0);
  await killAll();
  await new Promise((resolve) => site?.close(resolve));
});

const received = (who: string) =>
  page.evaluate((w) => window.received.filter((e) => e[0] === w).map((e) => e.slice(1)), who) as Promise<[string, string, string][]>;

test('cross-origin EventSource with a query token and a cookie token: channels and private messages follow the tokens', async () => {
  const alice = hs256(SECRET, { sub: 'alice', ssehub: { channels: ['updates'] }, exp: inSeconds(600) });
  const bob = hs256(SECRET, { sub: 'bob', ssehub: { channels: ['room-1'] }, exp: inSeconds(600) });
  await page.evaluate(
    ({ hubUrl, alice, bob }) => {
      window.received = [];
      const listen = (who: string, es: EventSource) => {
        for (const type of ['message', 'my-event']) {
          es.addEventListener(type, (e) => window.received.push([who, type, (e as MessageEvent).data, (e as MessageEvent).lastEventId]));
        }
        es.addEventListener('error', () => window.received.push([who, 'error', String(es.readyState), '']));
        return es;
      };
      // Alice: the railsmechanic route, her token in the query, no cookies sent.
      const a = listen('alice', new EventSource(`${hubUrl}/updates?authorization=${alice}`));
      // Bob: his token in a cookie of the hub's host (cookies ignore ports), a forged ?id=alice.
      document.cookie = `ssehub_authorization=${bob}; path=/; SameSite=Lax`;
      const b = listen('bob', new EventSource(`${hubUrl}/events?channel=room-1&id=alice`, { withCredentials: true }));
      // A channel alice's token does not grant: refused, and EventSource gives up.
      const d = listen('denied', new EventSource(`${hubUrl}/secret?authorization=${alice}`));
      window.states = () => ({ alice: a.readyState, bob: b.readyState, denied: d.readyState });
    },
    { hubUrl: hub.url, alice, bob },
  );
  await page.waitForFunction(() => {
    const s = window.states();
    return s.alice === 1 && s.bob === 1 && s.denied === 2;
  }, undefined, { polling: 20, timeout: 15_000 });

  const sent = {
    updates: await postJson(`${hub.url}/updates`, { event: 'my-event', data: 'to updates', id: 123 }, auth),
    room: await postJson(`${hub.url}/api/channels/room-1`, { data: 'to room-1' }, auth),
    toAlice: await postJson(`${hub.url}/api/clients/alice`, { data: 'private to alice' }, auth),
    toBob: await postJson(`${hub.url}/api/clients/bob`, { data: 'private to bob' }, auth),
    all: await postJson(`${hub.url}/all`, { data: 'to everyone' }, auth),
  };
  expect(sent.updates.body).toEqual({ id: '123', consumers: 1 });
  expect(sent.toAlice.body.consumers).toBe(1);
  await page.waitForFunction(() => window.received.filter((e) => e[0] !== 'denied').length >= 6, undefined, { polling: 20, timeout: 10_000 });
  // A little longer: nothing else may arrive (bob must never see alice's private message).
  await new Promise((r) => setTimeout(r, 300));
  expect(await received('alice')).toEqual([
    ['my-event', 'to updates', '123'],
    ['message', 'private to alice', sent.toAlice.body.id],
    ['message', 'to everyone', sent.all.body.id],
  ]);
  expect(await received('bob')).toEqual([
    ['message', 'to room-1', sent.room.body.id],
    ['message', 'private to bob', sent.toBob.body.id],
    ['message', 'to everyone', sent.all.body.id],
  ]);
  expect(await received('denied')).toEqual([['error', '2', '']]);

  // The page publishes too, cross-origin, on the railsmechanic route: Chromium's preflight has to pass.
  const fromPage = await page.evaluate(
    async ({ hubUrl, token }) => {
      const res = await fetch(`${hubUrl}/updates`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ event: 'my-event', data: 'from the page' }),
      });
      return { status: res.status, body: await res.json() };
    },
    { hubUrl: hub.url, token: TOKEN },
  );
  expect(fromPage).toEqual({ status: 201, body: { id: expect.stringMatching(/^\d+$/), consumers: 1 } });
  await page.waitForFunction(() => window.received.some((e) => e[2] === 'from the page'), undefined, { polling: 20, timeout: 10_000 });

  // DELETE /updates ends alice's stream; Chromium reconnects by itself with Last-Event-ID and gets
  // what was published meanwhile, once.
  expect((await (await fetch(`${hub.url}/updates`, { method: 'DELETE', headers: auth })).json()).closed).toBe(1);
  const missed = await postJson(`${hub.url}/updates`, { event: 'my-event', data: 'while alice was away' }, auth);
  expect(missed.body.consumers).toBe(0);
  await page.waitForFunction(() => window.received.some((e) => e[2] === 'while alice was away'), undefined, { polling: 20, timeout: 10_000 });
  await postJson(`${hub.url}/updates`, { event: 'my-event', data: 'live again' }, auth);
  await page.waitForFunction(() => window.received.some((e) => e[2] === 'live again'), undefined, { polling: 20, timeout: 10_000 });
  expect((await received('alice')).filter((e) => e[0] !== 'error')).toEqual([
    ['my-event', 'to updates', '123'],
    ['message', 'private to alice', sent.toAlice.body.id],
    ['message', 'to everyone', sent.all.body.id],
    ['my-event', 'from the page', fromPage.body.id],
    ['my-event', 'while alice was away', missed.body.id],
    ['my-event', 'live again', expect.stringMatching(/^\d+$/)],
  ]);
});
