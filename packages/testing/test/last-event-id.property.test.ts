/**
 * Random Last-Event-ID headers (huge, NUL, CR/LF, non-UTF-8, latin1, real ids) sent as raw bytes
 * over a TCP socket to every adapter (each supported framework major): the hub never crashes, and
 * never replays another client's private messages or a channel the stream may not join.
 */
import net from 'node:net';
import fc from 'fast-check';
import { createHub, type Hub, type StreamOptions } from '@ssehub/core';
import { FRAMEWORKS, startServer, type AdapterName, type TestServer } from '../src/servers';
import { fastifyHeader, waitUntil } from '../src/clients';

const header: Record<AdapterName, (req: any, name: string) => string | undefined> = {
  express: (req, name) => req.header(name) ?? undefined,
  koa: (ctx, name) => ctx.get(name) || undefined,
  hono: (c, name) => c.req.header(name),
  fastify: (req, name) => fastifyHeader(req, name),
  fetch: (request: Request, name) => request.headers.get(name) ?? undefined,
};

interface RawResult {
  status: number;
  text: string;
}

/** Sends a GET whose Last-Event-ID header is exactly `value`, and reads until `done` says so or the socket closes. */
function rawGet(port: number, path: string, extra: string, value: Uint8Array, onHeaders: () => string): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    let text = '';
    let marker: string | undefined;
    const socket = net.connect(port, '127.0.0.1', () => {
      const head = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${extra}Last-Event-ID: `;
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), value, Buffer.from('\r\n\r\n', 'latin1')]));
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of replay after 3 s; got ${JSON.stringify(text.slice(0, 300))}`));
    }, 3000);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    };
    socket.on('data', (b: Buffer) => {
      text += b.toString('latin1');
      if (marker === undefined && /^HTTP\/1\.1 200 /.test(text) && text.includes('\r\n\r\n')) marker = onHeaders();
      if (marker !== undefined && text.includes(marker)) finish();
    });
    socket.on('close', finish);
    socket.on('error', () => undefined);
  });
}

const lastEventIdBytes = (ids: string[]) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 80 }),
    fc.string({ unit: 'binary', maxLength: 60 }).map((s) => new TextEncoder().encode(s)),
    fc.string({ unit: 'binary', maxLength: 60 }).map((s) => Buffer.from(s, 'latin1')),
    fc.constantFrom(...ids).map((id) => Buffer.from(id)),
    fc.tuple(fc.constantFrom(...ids), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([id, tail]) => Buffer.concat([Buffer.from(id), tail])),
    fc.integer({ min: 200, max: 40_000 }).map((n) => Buffer.alloc(n, 0x31)),
    fc.constantFrom('\0', '\x7f', '\xff\xfe', '\xc3', '\xe2\x82', '\xed\xa0\x80').map((s) => Buffer.from(s, 'latin1')),
  );

describe.each(FRAMEWORKS)('$name: random Last-Event-ID headers over raw sockets', (framework) => {
  const { adapter } = framework;
  let hub: Hub;
  let server: TestServer;
  const errors: unknown[] = [];

  beforeAll(async () => {
    hub = createHub({ heartbeat: 0, history: 100_000, onError: (e) => errors.push(e) });
    // With X-User the server's grant decides identity and channels; without it, ?id= and ?channel= do.
    const sse: StreamOptions<any> = {
      authorize: (req) => {
        const user = header[adapter](req, 'x-user');
        return user ? { clientId: user, channels: ['lobby'] } : true;
      },
    };
    server = await startServer(framework, hub, { sse });
  });
  afterAll(async () => {
    await hub.close();
    await server.close();
  });

  it('never crashes and never replays private or forbidden history', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      ids.push(hub.broadcast({ data: `public-${i}` }));
      hub.broadcastTo('alice', { data: `alice-secret-${i}`, id: `a${i}` });
      ids.push(`a${i}`);
      ids.push(hub.broadcast({ data: `vault-secret-${i}`, channel: 'vault' }));
      ids.push(hub.broadcast({ data: `lobby-${i}`, channel: 'lobby' }));
    }
    let n = 0;
    let replayed = 0;
    await fc.assert(
      fc.asyncProperty(lastEventIdBytes(ids), fc.boolean(), async (value, granted) => {
        const marker = `end-of-replay-${++n}`;
        // Granted: asks to be alice in the vault and gets mallory in the lobby. Not granted: asks as mallory.
        const path = granted ? '/events?id=alice&channel=vault&channel=lobby' : '/events?id=mallory&channel=lobby';
        const extra = granted ? 'X-User: mallory\r\n' : '';
        const res = await rawGet(server.port, path, extra, value, () => {
          hub.broadcast({ data: marker });
          return marker;
        });
        // Node answers headers it cannot parse with 400 or 431; everything else is a stream.
        expect([200, 400, 431]).toContain(res.status);
        if (res.status === 200) expect(res.text).toContain(marker);
        expect(res.text).not.toMatch(/alice-secret|vault-secret/);
        if (/data: (public|lobby)-/.test(res.text)) replayed++;
      }),
      { numRuns: 60 },
    );
    // Some runs sent a known id, so the property did cover real replays.
    expect(replayed).toBeGreaterThan(0);
    await waitUntil(() => hub.size === 0, 'every stream to be released');
    expect(errors).toEqual([]);
    // Still serving.
    const res = await fetch(`${server.origin}/events?id=alice`, { headers: { 'Last-Event-ID': ids[0]! } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('alice-secret-19')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('alice-secret-0');
    expect(text).not.toContain('vault-secret');
    await reader.cancel();
  }, 60_000);
});
