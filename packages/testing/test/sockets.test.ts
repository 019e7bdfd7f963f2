/**
 * Hostile and unusual connections, on real servers over raw TCP: however a stream arrived
 * (pipelined behind another, on a reused keep-alive connection, over HTTP/1.0, or from a peer that
 * left while it was admitted), it is released within milliseconds of its connection closing.
 */
import net from 'node:net';
import { createHub, type Hub, type HubOptions } from '@ssehub/core';
import { type NodeSink } from '@ssehub/core/adapter/node';
import { ADAPTERS, startServer, type StartOptions, type TestServer } from '../src/servers';
import { failOnUnhandledRejections, sleep, waitUntil } from '../src/clients';

failOnUnhandledRejections();

/** A raw TCP connection that records what it reads, as latin1 text. */
interface Conn {
  socket: net.Socket;
  text: string;
  closed: boolean;
}

function connect(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(conn));
    const conn: Conn = { socket, text: '', closed: false };
    socket.on('data', (b: Buffer) => (conn.text += b.toString('latin1')));
    socket.on('close', () => (conn.closed = true));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

const get = (path: string, version = '1.1', extra = '') => `GET ${path} HTTP/${version}\r\nHost: x\r\n${extra}\r\n`;

/**
 * Tests of the Node adapters' own connection handling, not run on 'fetch'. A Fetch handler never
 * sees a socket: whether a connection that left is reported, and whether it is closed after the
 * response, is its runtime's business (here @hono/node-server's bridge; Next.js, Bun and Deno have
 * their own). Each with its reason:
 */
const NOT_ON_FETCH: Record<string, string> = {
  pipelined:
    'node:http queues a pipelined request\'s response behind the one before it, and the bridge learns ' +
    'of a closed connection only for the response on the socket: a queued stream is never told its client left',
  direct: 'there is no Node response to write to: the runtime reads the Web stream',
};

/** `it`, except on the adapters for which `reason` (a key of NOT_ON_FETCH) says the test does not apply. */
function nodeIt(adapter: string, reason: keyof typeof NOT_ON_FETCH, name: string, fn: () => Promise<void>): void {
  if (adapter === 'fetch' && NOT_ON_FETCH[reason]) return;
  it(name, fn);
}

describe.each(ADAPTERS)('%s adapter', (adapter) => {
  let hub: Hub;
  let server: TestServer;
  const conns: Conn[] = [];

  async function setup(options: HubOptions = {}, start: StartOptions = {}): Promise<void> {
    hub = createHub({ heartbeat: 0, ...options });
    server = await startServer(adapter, hub, start);
  }
  async function open(): Promise<Conn> {
    const c = await connect(server.port);
    conns.push(c);
    return c;
  }

  afterEach(async () => {
    for (const c of conns.splice(0)) c.socket.destroy();
    await hub.close();
    await server.close();
  });

  nodeIt(adapter, 'pipelined', 'releases both streams of a pipelined pair when the connection closes', async () => {
    await setup();
    const gone: string[] = [];
    hub.on('disconnect', (c) => gone.push(c.clientId!));
    const c = await open();
    c.socket.write(get('/events?id=a') + get('/events?id=b'));
    await waitUntil(() => hub.size === 2, 'both pipelined streams to be registered');
    await sleep(150);
    c.socket.destroy();
    await waitUntil(() => hub.size === 0, 'both streams to be released', 1000);
    expect(gone.sort()).toEqual(['a', 'b']);
  });

  nodeIt(adapter, 'pipelined', 'releases a gzipped pipelined pair when the connection closes', async () => {
    await setup({}, { sse: { compress: true } });
    const c = await open();
    const gz = 'Accept-Encoding: gzip\r\n';
    c.socket.write(get('/events?id=a', '1.1', gz) + get('/events?id=b', '1.1', gz));
    await waitUntil(() => hub.size === 2, 'both pipelined streams to be registered');
    c.socket.destroy();
    await waitUntil(() => hub.size === 0, 'both streams to be released', 1000);
  });

  nodeIt(adapter, 'direct', 'writes events straight to the socket on this Node (the fast path is still taken)', async () => {
    await setup();
    const c = await open();
    c.socket.write(get('/events'));
    await waitUntil(() => hub.size === 1, 'the stream');
    // The hub's connection keeps its sink; `direct` says which path its writes take.
    const sink = (hub.clients()[0] as unknown as { sink: NodeSink }).sink;
    expect(sink.direct).toBe(true);
    hub.broadcast({ data: 'fast' });
    await waitUntil(() => c.text.includes('data: fast'), 'the event');
  });

  nodeIt(adapter, 'pipelined', 'cannot be locked out by pipelined ghosts: after 200 such connections against maxClients 50, a real client gets in', async () => {
    await setup({ maxClients: 50 });
    for (let batch = 0; batch < 4; batch++) {
      const wave = await Promise.all(Array.from({ length: 50 }, () => open()));
      for (const c of wave) c.socket.write(get('/events') + get('/events'));
      await sleep(100);
      for (const c of wave) c.socket.destroy();
    }
    await waitUntil(() => hub.size === 0, 'every ghost to be released', 2000);
    const c = await open();
    c.socket.write(get('/events'));
    await waitUntil(() => c.text.includes('\r\n\r\n'), 'the response head');
    expect(c.text.startsWith('HTTP/1.1 200')).toBe(true);
  });

  it('serves a stream on a keep-alive connection that served another request first, and releases it', async () => {
    await setup();
    const c = await open();
    c.socket.write(get('/not-here'));
    await waitUntil(() => / 404 /.test(c.text), 'the first answer');
    expect(c.closed).toBe(false);
    c.socket.write(get('/events?id=second'));
    await waitUntil(() => hub.size === 1, 'the stream on the reused connection');
    hub.broadcast({ data: 'on the reused connection' });
    await waitUntil(() => c.text.includes('data: on the reused connection'), 'the event');
    c.socket.destroy();
    await waitUntil(() => hub.size === 0, 'the stream to be released', 1000);
  });

  nodeIt(adapter, 'connection-close', 'ends a stream together with its connection (Connection: close), so no connection stays pinned to the hub', async () => {
    await setup();
    const c = await open();
    c.socket.write(get('/events?id=k'));
    await waitUntil(() => hub.size === 1 && c.text.includes('\r\n\r\n'), 'the stream');
    expect(c.text.toLowerCase()).toContain('\r\nconnection: close\r\n');
    hub.disconnect('k');
    await waitUntil(() => c.closed, 'the connection to close after the stream');
    expect(c.text.endsWith('\r\n0\r\n\r\n')).toBe(true);
  });

  it('releases an HTTP/1.0 stream when its connection closes', async () => {
    await setup();
    const c = await open();
    c.socket.write(get('/events?id=old', '1.0'));
    await waitUntil(() => hub.size === 1, 'the HTTP/1.0 stream');
    hub.broadcast({ data: 'hello 1.0' });
    await waitUntil(() => c.text.includes('data: hello 1.0'), 'the event over HTTP/1.0');
    // HTTP/1.0 has no chunked encoding: the body is the raw event stream.
    expect(c.text).not.toMatch(/\r\n[0-9a-f]+\r\ndata:/);
    c.socket.destroy();
    await waitUntil(() => hub.size === 0, 'the HTTP/1.0 stream to be released', 1000);
  });

  it('registers nothing for a peer that left while authorize was deciding', async () => {
    let calls = 0;
    await setup({}, { sse: { authorize: async () => (calls++, await sleep(150), true) } });
    const c = await open();
    c.socket.write(get('/events?id=gone'));
    await waitUntil(() => calls === 1, 'authorize to be called');
    c.socket.destroy();
    await sleep(300);
    expect(hub.size).toBe(0);
  });

  nodeIt(adapter, 'pipelined', 'releases a long pipeline of stream requests on one connection, with no listener warning', async () => {
    // One listener per queued stream on the connection: past Node's default of 10 it would warn, unless raised.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      await setup();
      const c = await open();
      c.socket.write(Array.from({ length: 15 }, (_, i) => get(`/events?id=p${i}`)).join(''));
      await waitUntil(() => hub.size === 15, 'every pipelined stream');
      c.socket.destroy();
      await waitUntil(() => hub.size === 0, 'every stream to be released', 1000);
      await sleep(50);
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
