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
import type { ExampleName } from '../src/servers';

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

const SERVERS: Record<ExampleName, (demo: Demo) => http.Server> = {
  express: expressServer,
  koa: koaServer,
  hono: honoServer,
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
  const server = SERVERS[adapter](demo);
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
