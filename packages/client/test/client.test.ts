/**
 * @ssehub/client against real hub servers, one per adapter: events, reconnects with Last-Event-ID,
 * retry:, the first-request resume, onError on 401 and 503, 204, resync events, close() mid-wait.
 */
import type { Client, Hub, HubOptions } from '@ssehub/core';
import { createHub } from '@ssehub/core';
import { subscribe, type EventStream, type SseEvent, type StreamError, type SubscribeOptions } from '@ssehub/client';
import { ADAPTERS, startServer, type AdapterName, type StartOptions, type TestServer } from '../../testing/src/servers';
import { fastifyHeader, sleep, waitUntil } from '../../testing/src/clients';

/** Reads one request header from each framework's request object. */
const headerOf: Record<AdapterName, (req: any, name: string) => string | undefined> = {
  express: (req, name) => req.header(name) ?? undefined,
  koa: (ctx, name) => ctx.get(name) || undefined,
  hono: (c, name) => c.req.header(name),
  fastify: (req, name) => fastifyHeader(req, name),
  fetch: (request: Request, name) => request.headers.get(name) ?? undefined,
};

/** Routes that answer what a hub never does: 204, and a 200 that is not an event stream. */
function oddRoutes(hits: { gone: number; text: number }): StartOptions['mount'] {
  return {
    express: (app) => {
      app.get('/gone', (_req, res) => {
        hits.gone++;
        res.status(204).end();
      });
      app.get('/text', (_req, res) => {
        hits.text++;
        res.type('text/plain').send('not a stream');
      });
    },
    koa: (_app, router) => {
      router.get('/gone', (ctx) => {
        hits.gone++;
        ctx.status = 204;
      });
      router.get('/text', (ctx) => {
        hits.text++;
        ctx.type = 'text/plain';
        ctx.body = 'not a stream';
      });
    },
    hono: (app) => {
      app.get('/gone', (c) => {
        hits.gone++;
        return c.body(null, 204);
      });
      app.get('/text', (c) => {
        hits.text++;
        return c.text('not a stream');
      });
    },
    fastify: (app) => {
      app.get('/gone', async (_request, reply) => {
        hits.gone++;
        await reply.code(204).send();
      });
      app.get('/text', async (_request, reply) => {
        hits.text++;
        await reply.type('text/plain').send('not a stream');
      });
    },
    fetch: (app) => {
      app.route('/gone', () => {
        hits.gone++;
        return new Response(null, { status: 204 });
      });
      app.route('/text', () => {
        hits.text++;
        return new Response('not a stream', { headers: { 'Content-Type': 'text/plain' } });
      });
    },
  };
}

describe.each(ADAPTERS)('@ssehub/client against %s', (adapter) => {
  let hub: Hub;
  let server: TestServer;
  const streams: EventStream[] = [];
  /** Every connection the hub accepted, with the Last-Event-ID it arrived with. */
  let connects: { clientId: string | undefined; lastEventId: string | undefined; at: number }[];

  async function setup(options: HubOptions = {}, start: StartOptions = {}): Promise<void> {
    hub = createHub({ heartbeat: 0, ...options });
    connects = [];
    hub.on('connect', (c: Client) => connects.push({ clientId: c.clientId, lastEventId: c.lastEventId, at: Date.now() }));
    server = await startServer(adapter, hub, start);
  }
  const url = (query = '') => `${server.origin}/events${query}`;
  function open(target: string, options: SubscribeOptions = {}): EventStream {
    const s = subscribe(target, options);
    streams.push(s);
    return s;
  }
  /** Records every event a stream reads. */
  function record(s: EventStream): SseEvent[] {
    const events: SseEvent[] = [];
    s.on('event', (e) => events.push(e));
    return events;
  }

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await hub.close();
    await server.close();
  });

  it('reads broadcasts with their ids and types, and leaving the loop closes the stream', async () => {
    await setup();
    const stream = open(url());
    await waitUntil(() => hub.size === 1 && stream.readyState === 'open', 'the stream to open');
    const ids = [
      hub.broadcast({ event: 'tick', data: { n: 1 } }),
      hub.broadcast({ data: 'two\nlines' }),
      hub.broadcast({ event: 'note', data: 'héllo 🌍' }),
    ];
    const got: SseEvent[] = [];
    for await (const ev of stream) {
      got.push(ev);
      if (got.length === 3) break;
    }
    expect(got.map((e) => [e.type, e.data, e.id])).toEqual([
      ['tick', '{"n":1}', ids[0]],
      ['message', 'two\nlines', ids[1]],
      ['note', 'héllo 🌍', ids[2]],
    ]);
    expect(got[2]!.lastEventId).toBe(ids[2]);
    expect(stream.lastEventId).toBe(ids[2]);
    expect(stream.readyState).toBe('closed');
    await expect(stream.closed).resolves.toBeUndefined();
    await waitUntil(() => hub.size === 0, 'the hub to see the stream go');
  });

  it('reconnects after hub.disconnect with Last-Event-ID and reads every event exactly once, in order', async () => {
    await setup({ retry: 100 });
    const stream = open(url('?id=c1'));
    const events = record(stream);
    let opens = 0;
    stream.on('open', () => opens++);
    await waitUntil(() => hub.clientSize('c1') === 1, 'the stream to connect');
    const ids = [hub.broadcast({ data: 'a' }), hub.broadcast({ data: 'b' })];
    await waitUntil(() => events.length === 2, 'the first two events');

    expect(hub.disconnect('c1')).toBe(1);
    expect(hub.clientSize('c1')).toBe(0);
    // Published while the client is away: only the replay can bring these.
    ids.push(hub.broadcast({ data: 'c' }), hub.broadcast({ data: 'd' }), hub.broadcast({ data: 'e' }));
    await waitUntil(() => events.length === 5, 'the replayed events');
    ids.push(hub.broadcast({ data: 'f' }), hub.broadcast({ data: 'g' }));
    await waitUntil(() => events.length === 7, 'the live events after the reconnect');
    await sleep(50);

    expect(events.map((e) => e.id)).toEqual(ids);
    expect(events.map((e) => e.data)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(connects.map((c) => c.lastEventId)).toEqual([undefined, ids[1]]);
    expect(opens).toBe(2);
    expect(stream.lastEventId).toBe(ids[6]);
  });

  it('sends a non-ASCII last id as UTF-8 bytes, which the hub (ASCII ids only) answers as unknown with a resync', async () => {
    await setup({ retry: 50 });
    hub.broadcast({ data: 'kept' });
    const stream = open(url('?id=u'), { lastEventId: 'évènement-🌍-1' });
    const events = record(stream);
    await waitUntil(() => events.length === 1, 'the resync event');
    // Node hands header bytes over as latin1: these are the UTF-8 bytes of the id, exactly.
    expect(Buffer.from(connects[0]!.lastEventId!, 'latin1').toString('utf8')).toBe('évènement-🌍-1');
    expect(events[0]!.type).toBe('ssehub-resync');
    expect(JSON.parse(events[0]!.data)).toMatchObject({ reason: 'unknown-id' });
    expect(stream.lastEventId).toBe(hub.lastEventId);
  });

  it("waits the server's retry: before reconnecting, whatever the retry option said", async () => {
    await setup({ retry: 1200 });
    const stream = open(url('?id=slow'), { retry: 20 });
    await waitUntil(() => connects.length === 1 && stream.retry === 1200, 'the retry: field');
    const cut = Date.now();
    hub.disconnect('slow');
    await waitUntil(() => stream.readyState === 'connecting', 'the stream to notice the end');
    await waitUntil(() => connects.length === 2, 'the reconnect', 5000);
    expect(connects[1]!.at - cut).toBeGreaterThanOrEqual(1100);
  });

  it('a short retry: from the server overrides the 3000 ms default', async () => {
    await setup({ retry: 50 });
    const stream = open(url('?id=quick'));
    await waitUntil(() => connects.length === 1 && stream.retry === 50, 'the retry: field');
    const cut = Date.now();
    hub.disconnect('quick');
    await waitUntil(() => connects.length === 2, 'the reconnect', 2500);
    expect(connects[1]!.at - cut).toBeLessThan(2500);
  });

  it('the lastEventId option makes the first request resume', async () => {
    await setup();
    const ids = [hub.broadcast({ data: 'one' }), hub.broadcast({ data: 'two' }), hub.broadcast({ data: 'three' })];
    const stream = open(url(), { lastEventId: ids[0] });
    const events = record(stream);
    await waitUntil(() => events.length === 2, 'the replay');
    await sleep(50);
    expect(connects.map((c) => c.lastEventId)).toEqual([ids[0]]);
    expect(events.map((e) => [e.data, e.id])).toEqual([
      ['two', ids[1]],
      ['three', ids[2]],
    ]);
  });

  it('a 401 reaches onError and { closeNow: true } stops it with no further request', async () => {
    const authorizations: (string | undefined)[] = [];
    await setup(
      {},
      {
        sse: {
          authorize: (req: unknown) => {
            const auth = headerOf[adapter](req, 'authorization');
            authorizations.push(auth);
            return auth === 'Bearer good' ? true : { status: 401, message: 'who are you' };
          },
        },
      },
    );
    const errors: StreamError[] = [];
    const stream = open(url(), {
      headers: { Authorization: 'Bearer bad' },
      retry: 20,
      onError: (err) => {
        errors.push(err);
        return err.status === 401 ? { closeNow: true } : { retry: true };
      },
    });
    const stoppedBy = await stream.closed;
    expect(stoppedBy?.status).toBe(401);
    expect(stoppedBy?.kind).toBe('status');
    expect(errors.map((e) => e.status)).toEqual([401]);
    expect(stream.readyState).toBe('closed');
    await sleep(300); // fifteen retry delays: a stream that kept going would have asked again
    expect(authorizations).toEqual(['Bearer bad']);

    const good = open(url(), { headers: { Authorization: 'Bearer good' } });
    await waitUntil(() => hub.size === 1 && good.readyState === 'open', 'the authorized stream');
    expect(authorizations).toEqual(['Bearer bad', 'Bearer good']);
  });

  it('a full hub refuses with a stream the client comes back from by itself after Retry-After; onError can stop it', async () => {
    await setup({ maxClients: 1 }, { sse: { retryAfter: 1 } });
    const holder = open(url('?id=holder'));
    await waitUntil(() => hub.size === 1 && holder.readyState === 'open', 'the first stream');

    const stopped = open(url(), { retry: 20, onError: (err) => (err.kind === 'refused' ? { closeNow: true } : undefined) });
    const refused = await stopped.closed;
    expect(refused).toMatchObject({ kind: 'refused', reason: 'hub-full', status: 200, retryAfter: 1000 });

    const errors: { kind: string; at: number }[] = [];
    const patient = open(url('?id=patient'), { retry: 20, onError: (err) => void errors.push({ kind: err.kind, at: Date.now() }) });
    const events = record(patient);
    let openedAt = 0;
    patient.on('open', () => (openedAt = Date.now()));
    await waitUntil(() => errors.length === 1, 'the refusal');
    holder.close();
    await waitUntil(() => hub.clientSize('patient') === 1 && openedAt > 0, 'the retried stream', 5000);
    expect(errors.map((e) => e.kind)).toEqual(['refused']);
    expect(openedAt - errors[0]!.at).toBeGreaterThanOrEqual(950);
    const id = hub.broadcast({ data: 'in' });
    await waitUntil(() => events.length === 1, 'an event on the retried stream');
    expect(events[0]!.id).toBe(id);
  });

  it('204 stops the stream for good; a 200 that is not text/event-stream fails it', async () => {
    const hits = { gone: 0, text: 0 };
    await setup({}, { mount: oddRoutes(hits) });
    const errors: StreamError[] = [];
    const gone = open(`${server.origin}/gone`, { retry: 20, onError: (e) => void errors.push(e) });
    const seen: SseEvent[] = [];
    for await (const ev of gone) seen.push(ev);
    expect(seen).toEqual([]);
    await expect(gone.closed).resolves.toBeUndefined();
    expect(gone.readyState).toBe('closed');
    expect(errors).toEqual([]);

    const text = open(`${server.origin}/text`, { retry: 20 });
    const failed = await text.closed;
    expect(failed?.kind).toBe('content-type');
    expect(failed?.status).toBe(200);
    await sleep(200);
    expect(hits).toEqual({ gone: 1, text: 1 });
  });

  it('passes ssehub-resync through as an event when the history cannot fill the gap', async () => {
    await setup({ history: 2, retry: 50 });
    const stream = open(url('?id=r'));
    const events = record(stream);
    await waitUntil(() => hub.clientSize('r') === 1, 'the stream to connect');
    const first = hub.broadcast({ data: 'seen' });
    await waitUntil(() => events.length === 1, 'the first event');
    hub.disconnect('r');
    for (let i = 0; i < 5; i++) hub.broadcast({ data: `missed ${i}` });
    await waitUntil(() => events.length === 2, 'the resync event');
    expect(connects[1]!.lastEventId).toBe(first);
    const resync = events[1]!;
    expect(resync.type).toBe('ssehub-resync');
    expect(JSON.parse(resync.data)).toMatchObject({ reason: 'expired', lastEventId: first });
    // The resync frame carries the head's id, so the next reconnect resumes from there.
    expect(stream.lastEventId).toBe(hub.lastEventId);
    const after = hub.broadcast({ data: 'after' });
    await waitUntil(() => events.length === 3, 'a live event after the resync');
    expect(events[2]!.id).toBe(after);
  });

  it('close() during the reconnect wait clears its timer and ends the iterator at once', async () => {
    await setup();
    const stream = open(url('?id=w'), { retry: 60_000 });
    let ended = false;
    const loop = (async () => {
      for await (const _ of stream) void _;
      ended = true;
    })();
    await waitUntil(() => hub.clientSize('w') === 1, 'the stream to connect');
    hub.disconnect('w');
    await waitUntil(() => stream.readyState === 'connecting', 'the reconnect wait');
    await sleep(20);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    stream.close();
    expect(timers()).toBe(before - 1);
    await expect(stream.closed).resolves.toBeUndefined();
    await loop;
    expect(ended).toBe(true);
    expect(connects).toHaveLength(1);
  });
});
