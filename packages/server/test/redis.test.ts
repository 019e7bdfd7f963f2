/**
 * Two `ssehub` processes on one Redis are one hub: what is published on either reaches a subscriber
 * of the other, and a real EventSource client that moves from one to the other (its first server
 * shut down by SIGTERM, events published while it is away) resumes there with its Last-Event-ID,
 * missing nothing and getting nothing twice. Fails, never skips, without Redis.
 */
import net from 'node:net';
import { EsClient, HttpStream, failOnUnhandledRejections, waitUntil } from '../../testing/src/clients';
import { REDIS_URL, dropPrefix, requireRedis, uniquePrefix } from '../../redis/test/redis-helpers';
import { killAll, postJson, startSsehub, type Ssehub } from './helpers';

jest.setTimeout(90_000);
failOnUnhandledRejections();

/** A TCP front that sends new connections to one server, or refuses them while it points nowhere. */
class Switch {
  private target: number | undefined;
  private readonly open = new Set<net.Socket>();
  private readonly server = net.createServer((client) => {
    this.open.add(client);
    client.on('close', () => this.open.delete(client));
    client.on('error', () => undefined);
    if (this.target === undefined) return void client.destroy();
    const upstream = net.connect(this.target, '127.0.0.1');
    this.open.add(upstream);
    upstream.on('close', () => this.open.delete(upstream));
    upstream.on('error', () => undefined);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  port = 0;

  async listen(target: number): Promise<this> {
    this.target = target;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** New connections go to `port` (or are refused); open ones stay where they are. */
  to(port: number | undefined): void {
    this.target = port;
  }

  close(): Promise<void> {
    for (const s of this.open) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const TOKEN = 'redis-test-token';
const auth = { Authorization: `Bearer ${TOKEN}` };

describe('two ssehub processes on one Redis', () => {
  const prefix = uniquePrefix('server');
  let a: Ssehub;
  let b: Ssehub;
  let front: Switch;

  beforeAll(async () => {
    await requireRedis();
    const args = ['--token', TOKEN, '--redis', REDIS_URL, '--redis-prefix', prefix, '--retry', '200', '--drain', '300'];
    [a, b] = await Promise.all([startSsehub(args), startSsehub(args)]);
  });
  afterAll(async () => {
    await front?.close();
    await killAll();
    await dropPrefix(prefix);
  });

  test('a client moves from one to the other and resumes with its Last-Event-ID', async () => {
    front = await new Switch().listen(a.port);
    const es = new EsClient(`http://127.0.0.1:${front.port}/updates`, ['note']);
    const sent: { id: string; data: string }[] = [];
    const publish = async (on: Ssehub, data: string) => {
      const res = await postJson(`${on.url}/updates`, { event: 'note', data }, auth);
      expect(res.status).toBe(201);
      sent.push({ id: res.body.id, data });
      return res.body as { id: string; consumers: number };
    };
    try {
      await es.waitForOpen();
      // Published on either server, delivered by the one the client is on.
      await publish(a, 'n1 via A');
      await publish(b, 'n2 via B');
      await es.waitForEvents(2, 10_000);

      // A goes away (SIGTERM drains it); meanwhile the front refuses, so the client stays away.
      front.to(undefined);
      expect(await a.stop('SIGTERM')).toBe(0);
      await waitUntil(() => es.errors > 0, 'the client to notice its server went away', 10_000);
      expect((await publish(b, 'n3 while away')).consumers).toBe(0);
      await publish(b, 'n4 while away');

      // It comes back on B, which replays what it missed from Redis; then live again.
      front.to(b.port);
      await es.waitForOpen(2, 15_000);
      await publish(b, 'n5 live on B');
      await es.waitForEvents(5, 15_000);
      expect(es.events.map((e) => ({ id: e.id, data: e.data }))).toEqual(sent);
      expect(es.events.every((e) => e.event === 'note')).toBe(true);
      const head = await fetch(`${b.url}/updates`, { method: 'HEAD', headers: auth });
      expect(head.headers.get('x-consumer-count')).toBe('1');
    } finally {
      es.close();
    }

    // The same with an explicit Last-Event-ID on B: exactly what came after it, in order.
    const s = await HttpStream.open(`${b.url}/updates`, { 'Last-Event-ID': sent[0]!.id });
    await s.waitForEvents(4);
    expect(s.events.map((e) => e.data)).toEqual(sent.slice(1).map((m) => m.data));
    s.close();
  });
});
