/**
 * railsmechanic/eventsource's REST API on the real `ssehub` binary: the seed README's curl commands,
 * verbatim but for the port, then what each route does next to ssehub's own routes.
 */
import { EsClient, HttpStream, failOnUnhandledRejections } from '../../testing/src/clients';
import { killAll, postJson, sh, shBackground, startSsehub, type Ssehub } from './helpers';

jest.setTimeout(60_000);
failOnUnhandledRejections();
afterAll(killAll);

/** The seed README's commands, exactly as printed there. */
const SEED = {
  subscribe: 'curl http://localhost:8080/updates',
  publish1: `curl -H "Content-Type: application/json" -d '{"id":123, "event":"my-event", "data": "Hello World!"}' http://localhost:8080/updates`,
  publish2: `curl -H "Content-Type: application/json" -d '{"id":456, "event":"my-event", "data": "Hello Again!"}' http://localhost:8080/updates`,
  get: 'curl -X GET http://example.com/[channel]',
  post: `curl -X POST -H "Content-Type: application/json" -d '{"id":1, "event":"event", "data": "hello"}' http://example.com/[channel]`,
  delete: 'curl -X DELETE http://example.com/[channel]',
  head: 'curl -X HEAD -H "Connection: close" http://example.com/[channel]',
  postAll: `curl -X POST -H "Content-Type: application/json" -d '{"id":1, "event":"event", "data": "hello"}' http://example.com/all`,
  headAll: 'curl -X HEAD -H "Connection: close" http://example.com/all',
};

/** A seed command pointed at this server: only the host and port change (and `[channel]` is filled in). */
function at(server: Ssehub, command: string, channel = 'updates'): string {
  const origin = `http://localhost:${server.port}`;
  return command.replace('http://localhost:8080', origin).replace('http://example.com', origin).replace('[channel]', channel);
}

/** The same command printing the response headers (`-i`) and nothing of curl's progress. */
const withHeaders = (command: string) => command.replace(/^curl /, 'curl -s -i ');

/** Header values of a `curl -i` output, by lower-case name. */
function headersOf(output: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of output.split(/\r?\n/)) {
    const m = /^([\w-]+):\s*(.*)$/.exec(line);
    if (m) headers[m[1]!.toLowerCase()] = m[2]!;
  }
  return headers;
}

async function head(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'HEAD', headers });
}

describe('the seed README, verbatim, against ssehub --public', () => {
  let server: Ssehub;
  beforeAll(async () => {
    server = await startSsehub(['--public']);
  });
  afterAll(() => server.stop());

  test('subscribe, publish twice, HEAD, POST /all, DELETE: the subscriber prints what the README shows', async () => {
    const subscriber = shBackground(at(server, SEED.subscribe));
    const count = async () => (await head(`${server.url}/updates`)).headers.get('x-consumer-count');
    const until = Date.now() + 10_000;
    while ((await count()) !== '1') {
      if (Date.now() > until) throw new Error('the curl subscriber never showed up in X-Consumer-Count');
      await new Promise((r) => setTimeout(r, 20));
    }

    const first = await sh(at(server, SEED.publish1));
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ id: '123', consumers: 1 });
    const second = await sh(at(server, SEED.publish2));
    expect(JSON.parse(second.stdout)).toEqual({ id: '456', consumers: 1 });

    // HEAD as the README writes it ends (curl would hang on a HEAD answer that announced a body).
    const plainHead = await sh(at(server, SEED.head));
    expect(plainHead.code).toBe(0);
    const info = headersOf((await sh(withHeaders(at(server, SEED.head)))).stdout);
    expect(info['x-consumer-count']).toBe('1');
    expect(info['x-channel-exists']).toBe('true');
    expect(info['x-available-channels']).toBe('[updates]');
    const allInfo = headersOf((await sh(withHeaders(at(server, SEED.headAll)))).stdout);
    expect(allInfo['x-consumer-count']).toBe('1');
    expect(allInfo['x-available-channels']).toBe('[updates]');

    // POST /all reaches every consumer, whatever its channel.
    const global = await sh(at(server, SEED.postAll));
    expect(JSON.parse(global.stdout)).toEqual({ id: '1', consumers: 1 });

    // DELETE closes the channel: the subscriber's curl ends by itself, and its output is the README's.
    const deleted = await sh(at(server, SEED.delete));
    expect(JSON.parse(deleted.stdout)).toEqual({ closed: 1 });
    const done = await subscriber.done;
    expect(done.code).toBe(0);
    // Heartbeats (a lone ':' line every 15 s) are not events; none is due in this test, but a slow machine may see one.
    expect(done.stdout.replace(/^:\n/gm, '')).toBe(
      'id: 123\nevent: my-event\ndata: Hello World!\n\n' +
        'id: 456\nevent: my-event\ndata: Hello Again!\n\n' +
        'id: 1\nevent: event\ndata: hello\n\n',
    );
    const after = headersOf((await sh(withHeaders(at(server, SEED.head)))).stdout);
    expect(after['x-consumer-count']).toBe('0');
    expect(after['x-channel-exists']).toBe('false');
    expect(after['x-available-channels']).toBe('[]');
  });

  test("the REST section's GET and POST on a named channel", async () => {
    const subscriber = shBackground(`${at(server, SEED.get, 'mychannel')} -s`);
    const until = Date.now() + 10_000;
    while ((await head(`${server.url}/mychannel`)).headers.get('x-channel-exists') !== 'true') {
      if (Date.now() > until) throw new Error('the GET subscriber never joined mychannel');
      await new Promise((r) => setTimeout(r, 20));
    }
    const posted = await sh(`${at(server, SEED.post, 'mychannel')} -s -w ' %{http_code}'`);
    expect(posted.stdout).toBe('{"id":"1","consumers":1} 201');
    const closed = await sh(`${at(server, SEED.delete, 'mychannel')} -s -w ' %{http_code}'`);
    expect(closed.stdout).toBe('{"closed":1} 200');
    expect((await subscriber.done).stdout.replace(/^:\n/gm, '')).toBe('id: 1\nevent: event\ndata: hello\n\n');
  });

  test('channels are isolated, POST /all reaches every stream, GET /all gets the global broadcasts only', async () => {
    const streams = {
      updates: await HttpStream.open(`${server.url}/updates`),
      other: await HttpStream.open(`${server.url}/other`),
      all: await HttpStream.open(`${server.url}/all`),
      events: await HttpStream.open(`${server.url}/events?channel=updates`),
    };
    for (const s of Object.values(streams)) expect(s.status).toBe(200);
    expect((await postJson(`${server.url}/updates`, { event: 'u', data: 'u1' })).body.consumers).toBe(2);
    expect((await postJson(`${server.url}/all`, { event: 'g', data: 'all1' })).body.consumers).toBe(4);
    expect((await postJson(`${server.url}/api/channels/other`, { event: 'o', data: 'o1' })).body.consumers).toBe(1);
    const broadcast = await postJson(`${server.url}/api/broadcast`, { event: 'b', data: 'b1' });
    expect(broadcast.status).toBe(201);
    // Without an id from the publisher, the hub assigns one: numeric and increasing.
    expect(broadcast.body.id).toMatch(/^\d+$/);

    await streams.updates.waitForEvents(3);
    await streams.other.waitForEvents(3);
    await streams.all.waitForEvents(2);
    await streams.events.waitForEvents(3);
    const data = (s: HttpStream) => s.events.map((e) => e.data);
    expect(data(streams.updates)).toEqual(['u1', 'all1', 'b1']);
    expect(data(streams.events)).toEqual(['u1', 'all1', 'b1']);
    expect(data(streams.other)).toEqual(['all1', 'o1', 'b1']);
    expect(data(streams.all)).toEqual(['all1', 'b1']);
    expect(streams.all.events[1]!.id).toBe(broadcast.body.id);

    // DELETE /all: railsmechanic's CloseAll, every stream ends.
    const res = await fetch(`${server.url}/all`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ closed: 4 });
    for (const s of Object.values(streams)) await s.waitForEnd();
  });

  test('an EventSource on /<channel> comes back after DELETE with its Last-Event-ID and misses nothing', async () => {
    const es = new EsClient(`${server.url}/resume`, ['note']);
    try {
      await es.waitForOpen();
      for (const n of [1, 2]) expect((await postJson(`${server.url}/resume`, { event: 'note', data: `n${n}` })).status).toBe(201);
      await es.waitForEvents(2);
      expect((await (await fetch(`${server.url}/resume`, { method: 'DELETE' })).json()).closed).toBe(1);
      // Published while the client is away (it waits for the default retry before reconnecting).
      const missed = await postJson(`${server.url}/resume`, { event: 'note', data: 'n3' });
      expect(missed.body.consumers).toBe(0);
      await es.waitForOpen(2, 10_000);
      await es.waitForEvents(3, 10_000);
      expect(es.events.map((e) => e.data)).toEqual(['n1', 'n2', 'n3']);
      expect(es.events[2]!.id).toBe(missed.body.id);
    } finally {
      es.close();
    }
  });
});

describe('railsmechanic routes with a publish token', () => {
  let server: Ssehub;
  const TOKEN = 'rm-secret-token';
  beforeAll(async () => {
    server = await startSsehub(['--token', TOKEN, '--max-body-bytes', '256'], {});
  });
  afterAll(() => server.stop());

  test('POST, HEAD and DELETE on /<channel> and on /api: 401 without the token, 403 with a wrong one, accepted with Bearer or Auth-Token', async () => {
    const body = JSON.stringify({ id: 7, event: 'e', data: 'x' });
    const cases: [method: string, path: string, ok: number][] = [
      ['POST', '/updates', 201],
      ['POST', '/api/channels/updates', 201],
      ['POST', '/all', 201],
      ['HEAD', '/updates', 200],
      ['HEAD', '/all', 200],
      ['DELETE', '/updates', 200],
      ['DELETE', '/all', 200],
      ['DELETE', '/api/channels/updates', 200],
    ];
    for (const [method, path, ok] of cases) {
      const send = (headers: Record<string, string>) =>
        fetch(`${server.url}${path}`, { method, headers: { 'Content-Type': 'application/json', ...headers }, body: method === 'POST' ? body : undefined });
      const none = await send({});
      expect([method, path, none.status]).toEqual([method, path, 401]);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expect([method, path, (await send({ Authorization: 'Bearer wrong' })).status]).toEqual([method, path, 403]);
      expect([method, path, (await send({ 'Auth-Token': 'wrong' })).status]).toEqual([method, path, 403]);
      expect([method, path, (await send({ Authorization: `Bearer ${TOKEN}` })).status]).toEqual([method, path, ok]);
      expect([method, path, (await send({ 'Auth-Token': TOKEN })).status]).toEqual([method, path, ok]);
    }
  });

  test('the seed commands with the token header added', async () => {
    const subscriber = await HttpStream.open(`${server.url}/updates`);
    expect(subscriber.status).toBe(200);
    const withToken = (c: string) => at(server, c).replace(/^curl /, `curl -s -H "Authorization: Bearer ${TOKEN}" `);
    const railsStyle = (c: string) => at(server, c).replace(/^curl /, `curl -s -H "Auth-Token: ${TOKEN}" `);
    expect(JSON.parse((await sh(withToken(SEED.publish1))).stdout)).toEqual({ id: '123', consumers: 1 });
    expect(JSON.parse((await sh(railsStyle(SEED.publish2))).stdout)).toEqual({ id: '456', consumers: 1 });
    expect(headersOf((await sh(withHeaders(withToken(SEED.head)))).stdout)['x-consumer-count']).toBe('1');
    // Without it, the seed's command is refused and publishes nothing.
    const refused = await sh(`${at(server, SEED.publish1)} -s -w ' %{http_code}'`);
    expect(refused.stdout).toBe('{"error":"a bearer token is required"} 401');
    await subscriber.waitForEvents(2);
    expect(subscriber.events.map((e) => [e.id, e.event, e.data])).toEqual([
      ['123', 'my-event', 'Hello World!'],
      ['456', 'my-event', 'Hello Again!'],
    ]);
    subscriber.close();
  });

  test('bodies are checked as the publish API checks them, on both routes', async () => {
    const auth = { Authorization: `Bearer ${TOKEN}` };
    for (const path of ['/updates', '/api/channels/updates']) {
      const post = (body: string, type = 'application/json') =>
        fetch(`${server.url}${path}`, { method: 'POST', headers: { ...auth, 'Content-Type': type }, body });
      expect((await post('{"data":"x"}', 'text/plain')).status).toBe(415);
      const bad = await post('{"data":');
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ error: 'the body is not valid JSON' });
      const missing = await post('{"event":"e"}');
      expect(missing.status).toBe(400);
      expect((await missing.json()).field).toBe('data');
      const fractional = await post('{"id":1.5,"data":"x"}');
      expect(fractional.status).toBe(400);
      expect((await fractional.json()).field).toBe('id');
      expect((await post(JSON.stringify({ data: 'x'.repeat(300) }))).status).toBe(413);
    }
  });

  test('ssehub routes and reserved names next to the channels', async () => {
    const index = await fetch(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('GET  /events?channel=<name>');
    // The operations routes are never channels: a GET is theirs (operations.test.ts), a POST is refused.
    for (const path of ['/events/x', '/a/b', '/api/nothing']) {
      expect([path, (await fetch(`${server.url}${path}`)).status]).toEqual([path, 404]);
    }
    for (const [path, status] of [['/healthz', 405], ['/metrics', 405], ['/api', 405]] as const) {
      const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body: '{"data":1}' });
      expect([path, res.status]).toEqual([path, status]);
    }
    // Without --cors, OPTIONS says what each route allows.
    expect((await fetch(`${server.url}/updates`, { method: 'OPTIONS' })).headers.get('allow')).toBe('GET, HEAD, POST, DELETE, OPTIONS');
    expect((await fetch(`${server.url}/events`, { method: 'OPTIONS' })).headers.get('allow')).toBe('GET, OPTIONS');
    expect((await fetch(`${server.url}/events`, { method: 'POST' })).status).toBe(405);
    const put = await fetch(`${server.url}/updates`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST, DELETE, OPTIONS');
    const api = await fetch(`${server.url}/api/`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(api.status).toBe(200);
    expect(await api.json()).toMatchObject({ consumers: 0, channels: [] });
    // A percent-encoded name is one channel on both routes.
    const s = await HttpStream.open(`${server.url}/room%20one`);
    const sent = await postJson(`${server.url}/api/channels/room%20one`, { data: 'spaced' }, { Authorization: `Bearer ${TOKEN}` });
    expect(sent.body.consumers).toBe(1);
    await s.waitForEvents(1);
    expect(s.events[0]!.data).toBe('spaced');
    const info = await head(`${server.url}/room%20one`, { Authorization: `Bearer ${TOKEN}` });
    expect(info.headers.get('x-available-channels')).toBe('[room%20one]');
    s.close();
  });
});
