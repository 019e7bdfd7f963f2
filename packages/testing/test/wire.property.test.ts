/**
 * The wire properties end to end: random data, event names and ids broadcast through every adapter,
 * on each supported major of its framework, on a real server are refused up front or read back
 * unchanged, by eventsource-parser over Node's HTTP client and by the real `eventsource` client.
 */
import fc from 'fast-check';
import { createHub, type Hub } from '@ssehub/core';
import { FRAMEWORKS, startServer, type TestServer } from '../src/servers';
import { EsClient, HttpStream, waitUntil } from '../src/clients';

const sendable = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.constantFrom('\r', '\n', '\r\n', '\0', ' ', ':', '\uFEFF', 'data: x', '\n\n', 'é', '😀') },
);
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const text = (maxLength: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: sendable, maxLength }) },
    { weight: 1, arbitrary: fc.string({ unit: fc.oneof(sendable, loneSurrogate), maxLength }) },
  );
/** Event names: mostly ones that can be sent, sometimes hostile ones. */
const field = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => !/[\r\n\0]/.test(s)) },
  { weight: 1, arbitrary: text(12) },
);
/** Ids: mostly visible ASCII (spaces included, so outer ones get refused), sometimes anything. */
const idField = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: field },
);

describe.each(FRAMEWORKS)('$name: random messages end to end', (framework) => {
  let hub: Hub;
  let server: TestServer;
  let stream: HttpStream;
  let es: EsClient;

  beforeAll(async () => {
    hub = createHub({ heartbeat: 0 });
    server = await startServer(framework, hub);
    stream = await HttpStream.open(`${server.origin}/events`);
    es = new EsClient(`${server.origin}/events`);
    await es.waitForOpen();
    await waitUntil(() => hub.size === 2, 'both clients');
  });
  afterAll(async () => {
    stream.close();
    es.close();
    await hub.close();
    await server.close();
  });

  it('every message is refused with a TypeError or read back exactly by both clients', async () => {
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(text(40), fc.option(field, { nil: undefined }), fc.option(idField, { nil: undefined }), async (data, event, id) => {
        let assigned: string;
        const esBefore = es.events.length;
        try {
          assigned = hub.broadcast({ data, event, id });
        } catch (err) {
          expect(err).toBeInstanceOf(TypeError);
          return;
        }
        sent++;
        await stream.waitForEvents(sent);
        const got = stream.events[sent - 1]!;
        expect(got.data).toBe(data.replace(/\r\n|\r/g, '\n'));
        expect(got.event).toBe(event ?? 'message');
        expect(got.id).toBe(assigned);
        if (!event || event === 'message') {
          // The real EventSource only hands `message` events to this listener.
          await es.waitForEvents(esBefore + 1);
          expect(es.events).toHaveLength(esBefore + 1);
          const e = es.events.at(-1)!;
          expect(e.data).toBe(data.replace(/\r\n|\r/g, '\n'));
          expect(e.id).toBe(assigned);
        }
      }),
      { numRuns: 120 },
    );
    // The property did reach the wire, not only the refusals.
    expect(sent).toBeGreaterThan(30);
  }, 60_000);
});
