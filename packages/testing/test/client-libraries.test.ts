/**
 * Popular client libraries read ssehub streams as their users expect, on a real server per adapter:
 * `@microsoft/fetch-event-source` reports no empty event for heartbeats or `retry:`, and every id
 * the hub lets onto the wire comes back unchanged in the Last-Event-ID of `eventsource`,
 * fetch-event-source and `@ssehub/client` when they reconnect.
 */
import fc from 'fast-check';
import { fetchEventSource, type EventSourceMessage } from '@microsoft/fetch-event-source';
import { createHub, type Hub } from '@ssehub/core';
import { subscribe } from '@ssehub/client';
import { ADAPTERS, startServer, type TestServer } from '../src/servers';
import { EsClient, HttpStream, failOnUnhandledRejections, sleep, waitUntil } from '../src/clients';

failOnUnhandledRejections();

// fetch-event-source is written for browsers: it reaches for `window.fetch` and `window.setTimeout`
// (in Node they are on globalThis) and adds and removes a `visibilitychange` listener on `document`.
(globalThis as { window?: unknown }).window ??= globalThis;
(globalThis as { document?: unknown }).document ??= { hidden: false, addEventListener() {}, removeEventListener() {} };

/** fetch-event-source as an app uses it (in Node it needs `openWhenHidden`: there is no document). */
function fetchClient(url: string) {
  const ctrl = new AbortController();
  const state = { messages: [] as EventSourceMessage[], opens: 0, ctrl };
  void fetchEventSource(url, {
    signal: ctrl.signal,
    openWhenHidden: true,
    onopen: async () => void state.opens++,
    onmessage: (m) => void state.messages.push(m),
    // fetch-event-source stops when a stream ends normally unless onclose throws; apps throw to reconnect.
    onclose: () => {
      throw new Error('the server ended the stream: reconnect');
    },
    // Retry (return), never rethrow: the test decides when to stop.
    onerror: () => undefined,
  });
  return state;
}

/** Ids the hub accepts: 1 to 40 characters of visible ASCII, spaces inside. */
const idArb = fc
  .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 })
  .filter((s) => s.trim() === s && s !== '');

describe.each(ADAPTERS)('%s adapter', (adapter) => {
  let hub: Hub;
  let server: TestServer;
  const stops: (() => void)[] = [];

  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    await hub.close();
    await server.close();
  });

  it('fetch-event-source calls onmessage only for the events the app sent, on a quiet stream with heartbeats and retry', async () => {
    hub = createHub({ heartbeat: 40, retry: 2000 });
    server = await startServer(adapter, hub);
    const fes = fetchClient(`${server.origin}/events`);
    stops.push(() => fes.ctrl.abort());
    // The same stream read by a spec parser: heartbeats and the retry still reach it.
    const parsed = await HttpStream.open(`${server.origin}/events`);
    stops.push(() => parsed.close());
    await waitUntil(() => fes.opens === 1 && hub.size === 2, 'both clients');
    await sleep(300);
    hub.broadcast({ data: '{"n":1}' });
    await sleep(200);
    hub.broadcast({ event: 'note', data: 'two' });
    await waitUntil(() => fes.messages.length >= 2, 'the two events');
    await sleep(200);
    expect(fes.messages.map((m) => [m.event, m.data])).toEqual([
      ['', '{"n":1}'],
      ['note', 'two'],
    ]);
    // Every message parses as the app expects: no empty one from a heartbeat or the retry field.
    expect(() => JSON.parse(fes.messages[0]!.data)).not.toThrow();
    expect(parsed.comments.length).toBeGreaterThanOrEqual(5);
    expect(parsed.retries).toEqual([2000]);
    expect(parsed.events.map((e) => e.data)).toEqual(['{"n":1}', 'two']);
  });

  it('every id the hub accepts comes back unchanged in the Last-Event-ID of eventsource, fetch-event-source and @ssehub/client', async () => {
    hub = createHub({ heartbeat: 0, retry: 10 });
    server = await startServer(adapter, hub);
    const arrivals: { clientId: string | undefined; lastEventId: string | undefined }[] = [];
    hub.on('connect', (c) => arrivals.push({ clientId: c.clientId, lastEventId: c.lastEventId }));
    const es = new EsClient(`${server.origin}/events?id=es`);
    stops.push(() => es.close());
    const fes = fetchClient(`${server.origin}/events?id=fes`);
    stops.push(() => fes.ctrl.abort());
    const own = subscribe(`${server.origin}/events?id=own`, { retry: 10 });
    stops.push(() => own.close());
    const ownIds: string[] = [];
    own.on('event', (e) => void ownIds.push(e.lastEventId));
    await waitUntil(() => hub.size === 3, 'three clients');

    let round = 0;
    await fc.assert(
      fc.asyncProperty(idArb, async (raw) => {
        // Unique per round, so a stale Last-Event-ID cannot pass for this one.
        const id = `${raw}#${round++}`.slice(-40);
        hub.broadcast({ data: 'x', id });
        await waitUntil(
          () => es.events.at(-1)?.id === id && fes.messages.at(-1)?.id === id && ownIds.at(-1) === id,
          `every client to read id ${JSON.stringify(id)}`,
        );
        const seen = arrivals.length;
        expect(hub.disconnectAll()).toBe(3);
        await waitUntil(() => arrivals.length >= seen + 3 && hub.size === 3, 'the three reconnects');
        const back = arrivals.slice(seen);
        for (const who of ['es', 'fes', 'own']) {
          expect(back.find((a) => a.clientId === who)?.lastEventId).toBe(id);
        }
      }),
      { numRuns: 25 },
    );
    // No client was resynced: each id was found where it was sent.
    expect(es.events.some((e) => e.event === 'ssehub-resync')).toBe(false);
    expect(fes.messages.some((m) => m.event === 'ssehub-resync')).toBe(false);
  }, 60_000);
});
