/**
 * Whole-process restarts under real clients, on each adapter: the fixture app
 * (packages/testing/fixtures/restart-server.ts) runs as a child process, three native EventSources
 * in Chromium, two `eventsource` package clients and one `@ssehub/client` stream read it while the
 * test publishes through its publish API every 20 ms; then the process gets SIGTERM and a new one
 * takes over the same port (started just before, or just after: see `Start`). For each way the app
 * shuts down on SIGTERM (server.close() then
 * hub.close(), hub.close() then server.close(), hub.drain({ server })) it checks that the old
 * process exits by itself within the bound, that every client comes back to the new process with
 * its Last-Event-ID, receives nothing twice and nothing out of order, gets everything the new
 * process published, and is told about the gap between the processes (a `restart` resync).
 * The measured exit times and reconnect spreads go to test-artifacts/restart.json (git-ignored) and
 * to the log, as a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { subscribe, type EventStream } from '@ssehub/client';
import { ADAPTERS, type AdapterName } from '../src/servers';
import { EsClient } from '../src/clients';
import { AppProcess, Publisher, eventually, freePort, killAll, verdict, type SeenEvent, type Verdict } from '../src/processes';
import { ARTIFACTS, launchBrowser, openEventSources, readEventSources } from './harness';

jest.setTimeout(90_000);

type Mode = 'server-first' | 'hub-first' | 'drain';
/**
 * How the new process comes up. `handover`: it is started first, and the old one gets SIGTERM once
 * the new one is loaded and waiting for the port, which it takes the moment the old one lets go
 * (what the numbers then measure is the hub and the clients, not tsx's start-up of a second or more).
 * `cold`: it is started right after the SIGTERM, so the clients wait out its start-up.
 */
type Start = 'handover' | 'cold';
const SCENARIOS: readonly [Mode, Start][] = [
  ['server-first', 'handover'],
  ['hub-first', 'handover'],
  ['drain', 'handover'],
  ['server-first', 'cold'],
];
const DRAIN_MS = 3000;
const GRACE_MS = 1000;
/** The exit bound the issue states: signal to exit. */
const BOUND: Record<Mode, number> = { 'server-first': 1500, 'hub-first': 1500, drain: DRAIN_MS + GRACE_MS + 1000 };

const CHROMIUM = ['chromium-0', 'chromium-1', 'chromium-2'];
const EVENTSOURCE = ['eventsource-0', 'eventsource-1'];
const SSEHUB_CLIENT = ['ssehub-client-0'];
const CLIENTS = [...CHROMIUM, ...EVENTSOURCE, ...SSEHUB_CLIENT];

/** One line of the table: one adapter, one shutdown order. */
interface Row {
  adapter: AdapterName;
  mode: Mode;
  start: Start;
  /** SIGTERM sent to the old process's exit, ms; null when it had not exited within bound + 5 s. */
  exitMs: number | null;
  exitBoundMs: number;
  exitCode: number | null;
  /** SIGTERM to the shutdown's calls returning (the fixture's `closed` line). */
  closedMs: number | null;
  /** SIGTERM to the app's own `exit` event (the OS reports the exit later: `exitMs`). */
  appExitMs: number | null;
  /** SIGTERM to the new process listening on the port (its start-up: tsx compiles the app). */
  newListeningMs: number;
  /** First to last stream end in the old process. */
  endSpreadMs: number;
  /** First to last client reconnect to the new process (its hub's `connect`). */
  reconnectSpreadMs: number;
  /** SIGTERM to the last client back on the new process. */
  lastBackMs: number;
  published: { old: number; new: number; notSent: number };
  clients: Record<string, { backMs: number; received: number; lost: number; missedAtEndOfOld: number; duplicates: number; outOfOrder: number; gap: string }>;
}
const rows: Row[] = [];

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await killAll();
  await browser?.close();
  if (!rows.length) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(path.join(ARTIFACTS, 'restart.json'), JSON.stringify({ drainMs: DRAIN_MS, graceMs: GRACE_MS, bounds: BOUND, rows }, null, 2) + '\n');
  console.log(table(rows));
});

describe.each(ADAPTERS)('%s: the app restarts under Chromium, eventsource and @ssehub/client', (adapter) => {
  let context: BrowserContext | undefined;
  const cleanups: (() => unknown)[] = [];

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await context?.close();
    context = undefined;
    await killAll();
  });

  /** Every client connected to `origin`, and how to read what each received. */
  async function connectClients(origin: string, page: Page): Promise<() => Promise<Record<string, SeenEvent[]>>> {
    await page.goto(`${origin}/`);
    await openEventSources(
      page,
      CHROMIUM.map((name) => ({ name, url: `/events?id=${name}` })),
      ['ssehub-resync'],
    );
    const es = EVENTSOURCE.map((name) => new EsClient(`${origin}/events?id=${name}`, ['ssehub-resync']));
    cleanups.push(() => es.forEach((c) => c.close()));
    const streams: { name: string; stream: EventStream; events: SeenEvent[] }[] = SSEHUB_CLIENT.map((name) => {
      const stream = subscribe(`${origin}/events?id=${name}`);
      const events: SeenEvent[] = [];
      stream.on('event', (e) => events.push({ type: e.type, data: e.data, id: e.lastEventId }));
      return { name, stream, events };
    });
    cleanups.push(() => streams.forEach((s) => s.stream.close()));
    return async () => {
      const out: Record<string, SeenEvent[]> = {};
      for (const s of await readEventSources(page)) out[s.name] = s.events;
      EVENTSOURCE.forEach((name, i) => (out[name] = es[i]!.events.map((e) => ({ type: e.event, data: e.data, id: e.id }))));
      for (const s of streams) out[s.name] = s.events;
      return out;
    };
  }

  it.each(SCENARIOS)('shutting down with %s, new process %s: the old one exits within the bound, every client comes back and nothing is lost, repeated or unsaid', async (mode, start) => {
    const port = await freePort();
    const first = AppProcess.start({ ADAPTER: adapter, PORT: port, SHUTDOWN: mode, DRAIN_MS, GRACE_MS });
    // Chromium's page opens while the app starts.
    context = await browser.newContext();
    const [page] = await Promise.all([context.newPage(), first.listening]);
    // For a handover the new process starts now: it loads while the clients connect, then waits for the port.
    const next = start === 'handover' ? AppProcess.start({ ADAPTER: adapter, PORT: port }) : undefined;
    const received = await connectClients(first.origin, page);
    await eventually(() => first.connected(CLIENTS), () => `every client on the first process (log: ${JSON.stringify(first.of('connect'))})`);

    const publisher = new Publisher(port, 20);
    cleanups.push(() => publisher.stop());
    publisher.start();
    await eventually(() => first.published().length >= 15, 'some events from the first process');

    // The restart on the same port.
    let second: AppProcess;
    let signalAt: number;
    if (next) {
      second = next;
      await eventually(() => second.first('waiting') !== undefined, () => `the new process to wait for the port (${second.other})`, 30_000);
      signalAt = first.terminate();
    } else {
      signalAt = first.terminate();
      second = AppProcess.start({ ADAPTER: adapter, PORT: port });
    }
    const exit = await first.exitWithin(BOUND[mode] + 5000);
    const listening = await second.listening;
    await eventually(() => second.connected(CLIENTS), () => `every client back on the new process (back: ${CLIENTS.filter((c) => second.first('connect', c)).join(', ')})`);
    // Publishing goes on a little after the last client is back (five more events, ten in all at least), then stops.
    const atBack = second.published().length;
    await eventually(() => second.published().length >= Math.max(10, atBack + 5), 'events from the new process after every client is back');
    await publisher.stop();
    // The fixture logs each id a moment after answering the publish: wait for the last ones.
    const inLogs = () => new Set([...first.published(), ...second.published()]);
    await eventually(() => publisher.accepted().every((a) => inLogs().has(a.id!)), 'every accepted publish in a process log', 5000).catch(() => undefined);

    const oldIds = first.published();
    const newIds = second.published();
    const everyNew = new Set(newIds);
    // Wait for the tail to arrive (a failure here is reported by the checks below, with details).
    await eventually(async () => Object.values(await received()).every((evs) => countIn(evs, everyNew) >= everyNew.size), 'every event of the new process at every client', 10_000).catch(() => undefined);
    const got = await received();
    const verdicts: Record<string, Verdict> = {};
    for (const name of CLIENTS) verdicts[name] = verdict(got[name] ?? [], oldIds, newIds);

    const connectAt = CLIENTS.map((c) => second.first('connect', c)!.t);
    const endedAt = CLIENTS.map((c) => first.first('disconnect', c)?.t ?? NaN);
    const row: Row = {
      adapter,
      mode,
      start,
      exitMs: exit ? exit.at - signalAt : null,
      exitBoundMs: BOUND[mode],
      exitCode: exit?.code ?? null,
      closedMs: first.first('closed') ? first.first('closed')!.t - signalAt : null,
      appExitMs: first.first('exit') ? first.first('exit')!.t - signalAt : null,
      newListeningMs: listening.t - signalAt,
      endSpreadMs: Math.max(...endedAt) - Math.min(...endedAt),
      reconnectSpreadMs: Math.max(...connectAt) - Math.min(...connectAt),
      lastBackMs: Math.max(...connectAt) - signalAt,
      published: { old: oldIds.length, new: newIds.length, notSent: publisher.attempts.filter((a) => a.outcome === 'refused').length },
      clients: Object.fromEntries(
        CLIENTS.map((name) => {
          const v = verdicts[name]!;
          return [
            name,
            {
              backMs: second.first('connect', name)!.t - signalAt,
              received: v.received,
              lost: v.oldHoles + v.oldMissedAtEnd + v.newMissed,
              missedAtEndOfOld: v.oldMissedAtEnd,
              duplicates: v.duplicates,
              outOfOrder: v.outOfOrder,
              gap: v.gapSaid ? 'said' : v.resync ? `wrong resync ${JSON.stringify(v.resync)}` : 'not said',
            },
          ];
        }),
      ),
    };
    rows.push(row);

    // The old process ended by itself (no process.exit in the fixture), within the bound; if it did
    // not, the failure shows what it still had open.
    const stillOpen = exit ? [] : [...first.lines].reverse().find((l) => l.type === 'open' || l.type === 'closed')?.open ?? 'no close';
    expect({ exited: exit !== undefined, code: exit?.code, signal: exit?.signal, stillOpen }).toEqual({ exited: true, code: 0, signal: null, stillOpen: [] });
    expect(row.exitMs!).toBeLessThan(BOUND[mode]);
    expect(first.first('closed')).toBeDefined();
    expect(first.other).toBe('');
    expect(second.other).toBe('');

    // The test did what it says: both processes published, every accepted publish is one of theirs,
    // and the new process's ids are above the old one's (what restart continuity rests on).
    expect(oldIds.length).toBeGreaterThanOrEqual(15);
    expect(newIds.length).toBeGreaterThanOrEqual(10);
    expect(publisher.accepted().filter((a) => !inLogs().has(a.id!))).toEqual([]);
    expect(BigInt(newIds[0]!)).toBeGreaterThan(BigInt(oldIds[oldIds.length - 1]!));

    if (mode === 'drain') {
      // The drain spread the stream ends over its window rather than ending them at once, and with
      // the new process already up, the reconnects reach it spread out the same way.
      expect(row.endSpreadMs).toBeGreaterThan(DRAIN_MS / 2);
      expect(row.reconnectSpreadMs).toBeGreaterThan(DRAIN_MS / 2);
    }

    for (const name of CLIENTS) {
      const v = verdicts[name]!;
      // Back with its Last-Event-ID: the first request to the new process named the last old event it got.
      expect({ name, lastEventId: second.first('connect', name)!.lastEventId }).toEqual({ name, lastEventId: v.lastOldId });
      expect({ name, duplicates: v.duplicates, outOfOrder: v.outOfOrder, foreign: v.foreign, oldHoles: v.oldHoles, newMissed: v.newMissed, gapSaid: v.gapSaid }).toEqual({
        name,
        duplicates: 0,
        outOfOrder: 0,
        foreign: [],
        oldHoles: 0,
        newMissed: 0,
        gapSaid: true,
      });
    }
  });
});

function countIn(events: readonly SeenEvent[], ids: ReadonlySet<string>): number {
  return events.filter((e) => e.type === 'message' && ids.has(e.id ?? '')).length;
}

function table(list: readonly Row[]): string {
  const lines = [
    'restart suite (ms from the SIGTERM): closed = the shutdown calls returned, app exit = its exit event,',
    'exit = the OS reported the old process gone (< bound),',
    'up = the new process listening, ends = first to last stream end in the old process, spread = first to last',
    'reconnect to the new process, back = the last reconnect. Per client: lost/duplicated/out of order, and in',
    "brackets how many of those lost were published by the old process after the client's last event from it",
    '(the restart resync told the client of that gap: "!" marks a client it was not said to).',
    '',
    'adapter  shutdown      start     closed  app exit  exit (bound)    up  ends spread  back  old/new  clients',
  ];
  for (const r of list) {
    const clients = Object.values(r.clients)
      .map((c) => `${c.lost}/${c.duplicates}/${c.outOfOrder}(${c.missedAtEndOfOld})${c.gap === 'said' ? '' : '!'}`)
      .join(' ');
    lines.push(
      [
        r.adapter.padEnd(8),
        r.mode.padEnd(13),
        r.start.padEnd(8),
        String(r.closedMs ?? '-').padStart(7),
        String(r.appExitMs ?? '-').padStart(9),
        `${r.exitMs ?? 'none'} (${r.exitBoundMs})`.padStart(13),
        String(r.newListeningMs).padStart(5),
        String(r.endSpreadMs).padStart(5),
        String(r.reconnectSpreadMs).padStart(6),
        String(r.lastBackMs).padStart(5),
        `${r.published.old}/${r.published.new}`.padStart(8),
        ' ' + clients,
      ].join(' '),
    );
  }
  return lines.join('\n');
}
