/**
 * The operations routes of the real binary: `/healthz` and `/readyz` for probes (no token), and
 * `/metrics` (Prometheus text, behind the publish token) whose numbers move as streams and
 * broadcasts happen.
 */
import { HttpStream } from '../../testing/src/clients';
import { killAll, startSsehub, type Ssehub } from './helpers';

jest.setTimeout(60_000);
afterAll(killAll);

const TOKEN = 'ops-token';

/** The value of one sample line (`name{labels} value`) of a Prometheus text exposition. */
function sample(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => '\\' + c)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

let server: Ssehub;
beforeAll(async () => {
  server = await startSsehub([], { SSEHUB_TOKEN: TOKEN });
});
afterAll(() => server.stop());

test('/healthz and /readyz answer probes without a token', async () => {
  const live = await fetch(`${server.url}/healthz`);
  expect(live.status).toBe(200);
  expect(await live.json()).toEqual({ live: true, state: 'open' });
  const ready = await fetch(`${server.url}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({ ready: true, reasons: [] });
  expect((await fetch(`${server.url}/readyz`, { method: 'POST' })).status).toBe(405);
});

test('/metrics needs the publish token, then shows the hub working', async () => {
  expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
  expect((await fetch(`${server.url}/metrics`, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(403);
  const scrape = async () => {
    const res = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.text();
  };
  const before = await scrape();
  expect(sample(before, 'ssehub_connections')).toBe(0);
  const stream = await HttpStream.open(`${server.url}/updates`);
  try {
    const post = await fetch(`${server.url}/updates`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: 'counted' }),
    });
    expect(post.status).toBe(201);
    await stream.waitForEvents(1);
    const after = await scrape();
    expect(sample(after, 'ssehub_connections')).toBe(1);
    expect(sample(after, 'ssehub_connections_opened_total')).toBe((sample(before, 'ssehub_connections_opened_total') ?? 0) + 1);
    expect(sample(after, 'ssehub_events_published_total')).toBe((sample(before, 'ssehub_events_published_total') ?? 0) + 1);
    expect(sample(after, 'ssehub_deliveries_total')).toBe((sample(before, 'ssehub_deliveries_total') ?? 0) + 1);
  } finally {
    stream.close();
  }
});
