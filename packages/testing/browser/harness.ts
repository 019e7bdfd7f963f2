/**
 * What the browser tests share: Debian's Chromium through playwright-core, and each example's real
 * server on 127.0.0.1 and an ephemeral port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { HubOptions } from '@ssehub/core';
import { Demo } from '../../../examples/shared/src';
import { createServer as expressServer } from '../../../examples/express/src/app';
import { createServer as koaServer } from '../../../examples/koa/src/app';
import { createServer as honoServer } from '../../../examples/hono/src/app';
import { createServer as fastifyServer } from '../../../examples/fastify/src/app';

/** Where screenshots go (git-ignored). */
export const ARTIFACTS = path.resolve(__dirname, '../../../test-artifacts');

/** The Chromium binary Debian's `chromium` package installs; CHROMIUM_PATH overrides it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Launches headless Chromium. Playwright gives every launch a fresh temporary profile
 * (user-data dir), removed on close.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

/** The examples with a demo page (examples/<name>): Express, Koa, Hono and Fastify. */
export const EXAMPLES = ['express', 'koa', 'hono', 'fastify'] as const;
export type ExampleName = (typeof EXAMPLES)[number];

const SERVERS: Record<ExampleName, (demo: Demo) => http.Server | Promise<http.Server>> = {
  express: expressServer,
  koa: koaServer,
  hono: honoServer,
  fastify: fastifyServer,
};

/** One example server with its demo hub. */
export interface Example {
  readonly demo: Demo;
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Starts an example's own server (the one `pnpm start` runs) on port 0, with no ticker so the tests
 * decide every event. A short retry makes the browser reconnect quickly.
 */
export async function startExample(adapter: ExampleName, hub: HubOptions = { history: 500, retry: 250 }): Promise<Example> {
  const demo = new Demo({ hub, tickMs: 0 });
  const server = await SERVERS[adapter](demo);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    demo,
    origin: `http://127.0.0.1:${port}`,
    async close() {
      await demo.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** What the demo page keeps in `window.ssehubDemo` (see examples/shared/public/demo.js). */
export interface PageState {
  clientId: string;
  channel: string;
  state: 'connecting' | 'open' | 'closed';
  events: { id: string; type: string; data: any; channel?: string; conn: number; replayed: boolean }[];
  duplicates: number;
  disorder: number;
  reconnects: number;
  lastEventId: string;
  clients: { count: number; ids: string[] };
  replay: null | { before: string; missed: string[] | null; head: string | null; status: string; replayed: number };
}

declare global {
  interface Window {
    ssehubDemo: PageState;
  }
}

/** The page's state, copied out of the browser. */
export function pageState(page: Page): Promise<PageState> {
  return page.evaluate(() => JSON.parse(JSON.stringify(window.ssehubDemo)) as PageState);
}

/**
 * Resolves once `check` holds in the page. It polls on a timer rather than on animation frames,
 * which a page in a background tab does not get.
 */
export async function inPage<A>(page: Page, check: (arg: A) => boolean, arg: A, timeout = 10_000): Promise<void> {
  // playwright's arg type unboxes handles; these checks only take plain values.
  await page.waitForFunction(check as (arg: unknown) => boolean, arg, { polling: 20, timeout });
}

/** Resolves once the page has received an event whose data has this `text`. */
export async function waitForText(page: Page, text: string, timeout = 10_000): Promise<void> {
  await inPage(page, (t) => window.ssehubDemo.events.some((e) => e.data?.text === t), text, timeout);
}

/** The `text` of every event the page received, in order. */
export async function texts(page: Page): Promise<string[]> {
  return (await pageState(page)).events.map((e) => e.data?.text).filter((t): t is string => typeof t === 'string');
}

/** Polls a server-side condition (the hub's view) until it holds. */
export async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What one native EventSource in the page recorded (see {@link openEventSources}). */
export interface PageSource {
  name: string;
  url: string;
  /** Every event of type `message` or one of the listed types: type, data, and the event's `lastEventId`. */
  events: { type: string; data: string; id: string }[];
  opens: number;
  errors: number;
  /** `readyState` at each `error` event: 0 (CONNECTING, it will reconnect) or 2 (CLOSED, for good). */
  errorStates: number[];
  /** `readyState` now. */
  readyState: number;
}

declare global {
  interface Window {
    ssehubSources: { es: EventSource; rec: Omit<PageSource, 'readyState'> }[];
  }
}

/**
 * Opens one native EventSource per `{ name, url }` in the page (same origin), each recording its
 * events (`message` and `types`), opens and errors in `window.ssehubSources`.
 */
export async function openEventSources(page: Page, sources: { name: string; url: string }[], types: string[] = []): Promise<void> {
  await page.evaluate(
    ({ sources, types }) => {
      window.ssehubSources ??= [];
      for (const { name, url } of sources) {
        const es = new EventSource(url);
        const rec = { name, url, events: [] as { type: string; data: string; id: string }[], opens: 0, errors: 0, errorStates: [] as number[] };
        const record = (e: MessageEvent) => rec.events.push({ type: e.type, data: e.data, id: e.lastEventId });
        es.addEventListener('message', record);
        for (const t of types) es.addEventListener(t, record);
        es.addEventListener('open', () => rec.opens++);
        es.addEventListener('error', () => {
          rec.errors++;
          rec.errorStates.push(es.readyState);
        });
        window.ssehubSources.push({ es, rec });
      }
    },
    { sources, types },
  );
}

/** What every EventSource of the page recorded so far. */
export function readEventSources(page: Page): Promise<PageSource[]> {
  return page.evaluate(() => (window.ssehubSources ?? []).map(({ es, rec }) => ({ ...JSON.parse(JSON.stringify(rec)), readyState: es.readyState }) as PageSource));
}

/** Closes the page's EventSources named in `names` (all when omitted). */
export function closeEventSources(page: Page, names?: string[]): Promise<void> {
  return page.evaluate((names) => {
    for (const { es, rec } of window.ssehubSources ?? []) if (!names || names.includes(rec.name)) es.close();
  }, names);
}
