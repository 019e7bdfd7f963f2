/**
 * What a connecting client gets before live events, read as the exact bytes on a sink: the replay
 * plan's edges (an up-to-date id with no history, ids the hub could not have issued, an earlier
 * process's id with initMessages), initMessages' ids and refusals, and the replay counter.
 */
import type { Hub, Message } from '@ssehub/core';
import { TestSink, hubFactory } from './test-sink';

const { hub, closeHubs } = hubFactory();
afterEach(async () => {
  await closeHubs();
});

const turn = () => new Promise((r) => setImmediate(r));

async function connect(h: Hub, lastEventId?: string): Promise<string> {
  const sink = new TestSink();
  h.connect(sink, { lastEventId });
  await turn();
  await turn();
  return sink.text;
}

/** The resync event's bytes. */
function resync(reason: string, lastEventId: string | null, head: string | null, id = head ?? ''): string {
  return `id: ${id}\nevent: ssehub-resync\ndata: ${JSON.stringify({ reason, lastEventId, hubLastEventId: head })}\n\n`;
}

describe('the replay plan', () => {
  it('sends nothing to a client already at the head, even when the history keeps nothing', async () => {
    const h = hub({ history: 0 });
    const head = h.broadcast({ data: 'x' });
    expect(await connect(h, head)).toBe('');
  });

  it('treats an id longer than maxLastEventIdLength as unknown, even one of digits that would pass for an earlier process', async () => {
    const h = hub();
    const head = h.broadcast({ data: 'x', id: 'h' });
    const long = '0'.repeat(257);
    expect(await connect(h, long)).toBe(resync('unknown-id', long.slice(0, 256), head));
  });

  it('looks up an id of exactly maxLastEventIdLength characters', async () => {
    const h = hub({ maxLastEventIdLength: 5 });
    h.broadcast({ data: 'a', id: 'abcde' });
    h.broadcast({ data: 'b', id: 'next' });
    expect(await connect(h, 'abcde')).toBe('id: next\ndata: b\n\n');
  });

  it('asks initMessages, not the history, for an earlier process id', async () => {
    const calls: [string, string | undefined][] = [];
    const h = hub({
      initMessages: (last, head) => {
        calls.push([last, head]);
        return [{ data: 'state', id: 'snapshot' }];
      },
    });
    const head = h.broadcast({ data: 'x' });
    expect(await connect(h, '1')).toBe(`id: snapshot\ndata: state\n\nid: ${head}\n\n`);
    expect(calls).toEqual([['1', head]]);
  });

  it('gives a client of an earlier process everything this one published, after a restart notice that keeps its id', async () => {
    const h = hub();
    const a = h.broadcast({ data: 'a' });
    const b = h.broadcast({ data: 'b' });
    // '1' is below this hub's id base: an id an earlier process of the app handed out.
    const notice = `event: ssehub-resync\ndata: ${JSON.stringify({ reason: 'restart', lastEventId: '1', hubLastEventId: b })}\n\n`;
    expect(await connect(h, '1')).toBe(`${notice}id: ${a}\ndata: a\n\nid: ${b}\ndata: b\n\n`);
    // The notice carries no id: a client that drops during this replay comes back with '1' and gets it all again.
    expect(h.stats().gaps.restart).toBe(0);
    expect(h.stats().eventsReplayed).toBe(2);
  });

  it('tells a client of an earlier process to resync (expired) once this process\'s history has lost events', async () => {
    const h = hub({ history: 1 });
    h.broadcast({ data: 'a' });
    const head = h.broadcast({ data: 'b' });
    expect(await connect(h, '1')).toBe(resync('expired', '1', head));
  });

  it('counts the replayed events, not the retry line before them', async () => {
    const h = hub({ retry: 1000 });
    const first = h.broadcast({ data: '1' });
    h.broadcast({ data: '2' });
    await connect(h, first);
    expect(h.stats().eventsReplayed).toBe(1);
  });

  it('resets the client id with an empty id when the hub has sent nothing yet', async () => {
    const h = hub();
    expect(await connect(h, 'unknown')).toBe(resync('unknown-id', 'unknown', null, ''));
  });
});

describe('initMessages', () => {
  it('puts the head id on the last message only, when it has none of its own', async () => {
    const h = hub({ initMessages: () => [{ data: 'a' }, { data: 'b' }] });
    const head = h.broadcast({ data: 'x' });
    expect(await connect(h, 'unknown')).toBe(`data: a\n\nid: ${head}\ndata: b\n\n`);
  });

  it('moves the client to the head with an id-only block when it returns nothing', async () => {
    const h = hub({ initMessages: () => [] });
    const head = h.broadcast({ data: 'x' });
    expect(await connect(h, 'unknown')).toBe(`id: ${head}\n\n`);
  });

  it('falls back to the resync event for a message id longer than maxLastEventIdLength', async () => {
    const errors: unknown[] = [];
    const h = hub({ maxLastEventIdLength: 4, onError: (e) => errors.push(e), initMessages: () => [{ data: 'a', id: 'toolong' }] });
    const head = h.broadcast({ data: 'x', id: 'h' });
    expect(await connect(h, 'old')).toBe(resync('unknown-id', 'old', head));
    expect(String(errors[0])).toMatch(/message\.id/);
  });

  it('falls back to the resync event, and reports why, when it does not return an array', async () => {
    const errors: unknown[] = [];
    const h = hub({ onError: (e) => errors.push(e), initMessages: () => ({ data: 'x' }) as unknown as Message[] });
    const head = h.broadcast({ data: 'x', id: 'h' });
    expect(await connect(h, 'old')).toBe(resync('unknown-id', 'old', head));
    expect(errors).toEqual([new TypeError('ssehub: initMessages must return an array of messages')]);
  });
});
