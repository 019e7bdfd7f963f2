/**
 * Wire-format properties (fast-check): whatever an app hands the hub is either refused up front or
 * read back unchanged by a spec-following parser (eventsource-parser), byte chunking included.
 */
import fc from 'fast-check';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { createHub, validateMessage, type Hub } from '@ssehub/core';
import { encodeEvent } from '@ssehub/core/adapter';
import { WebClient } from './web-client';

/** Characters that break naive encoders, mixed with any code point and lone surrogates. */
const unit = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom('\r', '\n', '\r\n', '\n\r', '\0', ' ', ':', '\uFEFF', 'data: ', 'id: 1', 'event: x', '\n\n', '\u2028', '\u0085', 'é', '😀'),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
);
const text = (maxLength = 30) => fc.string({ unit, maxLength });

/** Parses bytes cut into arbitrary pieces, decoding UTF-8 in streaming mode as a client does. */
function parseChunked(bytes: Uint8Array, cuts: number[]): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  const decoder = new TextDecoder();
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  for (const p of [...points, bytes.length]) {
    parser.feed(decoder.decode(bytes.subarray(at, p), { stream: true }));
    at = p;
  }
  parser.feed(decoder.decode());
  return events;
}

/** Well-formed UTF-16: no lone surrogate, so the text has an exact UTF-8 form. */
const wellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

const numRuns = 300;

describe('wire-format properties', () => {
  it('string data is read back exactly (line endings as LF) or refused, even split at any byte', () => {
    fc.assert(
      fc.property(text(60), fc.array(fc.nat(), { maxLength: 6 }), (data, cuts) => {
        let bytes: Uint8Array;
        try {
          validateMessage({ data });
          bytes = encodeEvent({ data }, '1');
        } catch (err) {
          // Only text that has no exact UTF-8 form may be refused.
          expect(err).toBeInstanceOf(TypeError);
          expect(wellFormed(data)).toBe(false);
          return;
        }
        expect(wellFormed(data)).toBe(true);
        const events = parseChunked(bytes, cuts);
        expect(events).toHaveLength(1);
        expect(events[0]!.data).toBe(data.replace(/\r\n|\r/g, '\n'));
      }),
      { numRuns },
    );
  });

  it('JSON data is read back as the same JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const events = parseChunked(encodeEvent({ data: { value } }, '1'), []);
        expect(events).toHaveLength(1);
        expect(JSON.parse(events[0]!.data)).toEqual(JSON.parse(JSON.stringify({ value })));
      }),
      { numRuns },
    );
  });

  it('an event name or id is refused before anything is sent, or read back unchanged', () => {
    fc.assert(
      fc.property(fc.option(text(), { nil: undefined }), fc.option(text(), { nil: undefined }), text(10), (event, id, data) => {
        const msg = { data: wellFormed(data) ? data : 'x', event, id };
        let bytes: Uint8Array;
        try {
          validateMessage(msg);
          bytes = encodeEvent(msg, id ?? '42');
        } catch (err) {
          expect(err).toBeInstanceOf(TypeError);
          const badEvent = event !== undefined && (event === '' || /[\r\n\0]/.test(event) || !wellFormed(event));
          // Ids are 1 to 256 characters of visible ASCII, spaces only inside: what clients send back unchanged.
          const badId = id !== undefined && (id.length > 256 || !/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(id));
          expect(badEvent || badId).toBe(true);
          return;
        }
        const events = parseChunked(bytes, []);
        expect(events).toHaveLength(1);
        expect(events[0]!.event).toBe(event);
        expect(events[0]!.id).toBe(id ?? '42');
      }),
      { numRuns },
    );
  });

  describe('through a hub', () => {
    let hub: Hub;
    afterEach(() => hub.close());

    it('a refused broadcast sends nothing to anyone and leaves the head id alone', async () => {
      hub = createHub({ heartbeat: 0 });
      const client = new WebClient(hub);
      const sent: { data: string; event?: string; id: string }[] = [];
      await fc.assert(
        fc.asyncProperty(text(20), fc.option(text(8), { nil: undefined }), fc.option(text(8), { nil: undefined }), async (data, event, id) => {
          const before = hub.lastEventId;
          let assigned: string;
          try {
            assigned = hub.broadcast({ data, event, id });
          } catch (err) {
            expect(err).toBeInstanceOf(TypeError);
            expect(hub.lastEventId).toBe(before);
            return;
          }
          sent.push({ data: data.replace(/\r\n|\r/g, '\n'), event: event || undefined, id: assigned });
        }),
        { numRuns: 200 },
      );
      await client.settle();
      expect(client.events.map((e) => ({ data: e.data, event: e.event === 'message' ? undefined : e.event, id: e.id }))).toEqual(
        sent.map((s) => ({ data: s.data, event: s.event === 'message' ? undefined : s.event, id: s.id })),
      );
    });

    it('any Last-Event-ID never crashes the hub and never replays another client\'s private messages', () => {
      hub = createHub({ heartbeat: 0, history: 50 });
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        ids.push(hub.broadcast({ data: `public-${i}` }));
        hub.broadcastTo('alice', { data: `alice-secret-${i}` });
        ids.push(hub.lastEventId!);
        hub.broadcast({ data: `vault-secret-${i}`, channel: 'vault' });
        ids.push(hub.lastEventId!);
      }
      const lastEventId = fc.oneof(
        text(40),
        fc.string({ unit: 'binary', maxLength: 2000 }),
        fc.constantFrom(...ids),
        fc.constantFrom(...ids).map((id) => id + '\0'),
        fc.nat().map((n) => String(n)),
        fc.uint8Array({ maxLength: 64 }).map((b) => String.fromCharCode(...b)),
      );
      return fc.assert(
        fc.asyncProperty(lastEventId, fc.constantFrom('mallory', undefined), async (lastEventId, clientId) => {
          const c = new WebClient(hub, { lastEventId, clientId, channels: ['lobby'] });
          await c.settle();
          expect(c.client.closed).toBe(false);
          expect(c.raw).not.toMatch(/alice-secret|vault-secret/);
          await c.cancel();
        }),
        { numRuns: 200 },
      );
    });
  });
});
