/**
 * Subscriber authorization on the real binary: tokens in the query, a cookie or a header, the
 * channels and client id they grant (a forged `?id=` gets nothing), refusals, the end of a stream at
 * its token's expiry, a public key, and the README's token-minting example.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HttpStream, failOnUnhandledRejections } from '../../testing/src/clients';
import { SERVER_DIR, es256, hs256, inSeconds, killAll, postJson, startSsehub, type Ssehub } from './helpers';

jest.setTimeout(60_000);
failOnUnhandledRejections();
afterAll(killAll);

const SECRET = 'jwt-tests-secret-of-at-least-32-bytes';
const TOKEN = 'publisher-token';
const auth = { Authorization: `Bearer ${TOKEN}` };

/** A token for `sub` granting `channels`, valid for an hour unless `extra` says otherwise. */
const mint = (sub: string | undefined, channels: string[] | undefined, extra: Record<string, unknown> = {}) =>
  hs256(SECRET, { ...(sub ? { sub } : {}), ...(channels ? { ssehub: { channels } } : {}), exp: inSeconds(3600), ...extra });

/** Opens a stream and resolves with its status and (for a refusal) its body. */
async function attempt(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers } });
  const body = res.status === 200 ? '' : await res.text();
  if (res.status === 200) await res.body?.cancel();
  return { status: res.status, body };
}

describe('with --jwt-secret', () => {
  let server: Ssehub;
  beforeAll(async () => {
    server = await startSsehub(['--token', TOKEN, '--jwt-secret', SECRET]);
  });
  afterAll(() => server.stop());

  test('no token, a bad one, or one that does not grant the channel: refused before any stream opens', async () => {
    const valid = mint('alice', ['room-1']);
    const cases: [string, Record<string, string>, number, string][] = [
      ['/events', {}, 401, 'ssehub: a token is required (cookie, ?authorization= or Authorization: Bearer)\n'],
      ['/updates', {}, 401, 'ssehub: a token is required (cookie, ?authorization= or Authorization: Bearer)\n'],
      ['/all', {}, 401, 'ssehub: a token is required (cookie, ?authorization= or Authorization: Bearer)\n'],
      [`/events?channel=room-2&authorization=${valid}`, {}, 403, 'ssehub: the token does not grant channel "room-2"\n'],
      [`/room-2?authorization=${valid}`, {}, 403, 'ssehub: the token does not grant channel "room-2"\n'],
      [`/events?channel=room-1&channel=room-2&authorization=${valid}`, {}, 403, 'ssehub: the token does not grant channel "room-2"\n'],
      [`/events?authorization=${mint('alice', ['room-1'], { exp: inSeconds(-10) })}`, {}, 401, 'ssehub: the token has expired\n'],
      [`/events?authorization=${hs256('another-secret-of-at-least-32-bytes!', { sub: 'alice' })}`, {}, 401, 'ssehub: the token signature is not valid\n'],
      [`/events?authorization=${hs256(SECRET, { sub: 'alice' }, { alg: 'none' }).split('.').slice(0, 2).join('.')}.`, {}, 401, 'ssehub: the token is signed with an algorithm this server does not accept\n'],
      [`/events?authorization=${hs256(SECRET, { sub: 'alice' }, { alg: 'HS512' })}`, {}, 401, 'ssehub: the token is signed with an algorithm this server does not accept\n'],
      [`/events?authorization=${hs256(SECRET, { sub: 'alice', ssehub: { channels: 'room-1' } })}`, {}, 401, 'ssehub: the ssehub.channels claim must be a list of channel names\n'],
      [`/events?authorization=${hs256(SECRET, { sub: 42 })}`, {}, 401, 'ssehub: the client id (ssehub.clientId or sub) must be a non-empty string\n'],
      [`/events?authorization=${hs256(SECRET, { nbf: inSeconds(600) })}`, {}, 401, "ssehub: the token's nbf claim is not accepted\n"],
      ['/events?authorization=not.a.token', {}, 401, 'ssehub: the token is not a valid JWT\n'],
      // The publish token is not a subscriber token.
      ['/events', { Authorization: `Bearer ${TOKEN}` }, 401, 'ssehub: the token is not a valid JWT\n'],
    ];
    for (const [url, headers, status, body] of cases) {
      expect([url, await attempt(`${server.url}${url}`, headers)]).toEqual([url, { status, body }]);
    }
    expect((await fetch(`${server.url}/api/`, { headers: auth }).then((r) => r.json())).consumers).toBe(0);
  });

  test('the token travels in the query, a cookie or the Authorization header', async () => {
    const token = mint('carol', ['room-1']);
    const streams = [
      await HttpStream.open(`${server.url}/events?channel=room-1&authorization=${token}`),
      await HttpStream.open(`${server.url}/events?channel=room-1`, { Cookie: `theme=dark; ssehub_authorization=${token}` }),
      await HttpStream.open(`${server.url}/events?channel=room-1`, { Authorization: `Bearer ${token}` }),
      await HttpStream.open(`${server.url}/room-1?authorization=${encodeURIComponent(`Bearer ${token}`)}`),
    ];
    for (const s of streams) expect(s.status).toBe(200);
    const sent = await postJson(`${server.url}/room-1`, { event: 'm', data: 'to room-1' }, auth);
    expect(sent.body.consumers).toBe(4);
    for (const s of streams) {
      await s.waitForEvents(1);
      expect(s.events[0]).toEqual({ event: 'm', data: 'to room-1', id: sent.body.id });
      s.close();
    }
  });

  test('the client id is the token\'s: a forged ?id= gets nothing private, now or on replay', async () => {
    const alice = await HttpStream.open(`${server.url}/events?authorization=${mint('alice', [])}`);
    const bob = await HttpStream.open(`${server.url}/events?id=alice&authorization=${mint('bob', [])}`);
    // ssehub.clientId wins over sub.
    const named = await HttpStream.open(`${server.url}/events?authorization=${mint('someone', [], { ssehub: { clientId: 'dave' } })}`);
    const toAlice = await postJson(`${server.url}/api/clients/alice`, { data: 'for alice' }, auth);
    expect(toAlice.body.consumers).toBe(1);
    expect((await postJson(`${server.url}/api/clients/bob`, { data: 'for bob' }, auth)).body.consumers).toBe(1);
    expect((await postJson(`${server.url}/api/clients/dave`, { data: 'for dave' }, auth)).body.consumers).toBe(1);
    const everyone = await postJson(`${server.url}/all`, { data: 'for everyone' }, auth);
    await alice.waitForEvents(2);
    await bob.waitForEvents(2);
    await named.waitForEvents(2);
    expect(alice.events.map((e) => e.data)).toEqual(['for alice', 'for everyone']);
    expect(bob.events.map((e) => e.data)).toEqual(['for bob', 'for everyone']);
    expect(named.events.map((e) => e.data)).toEqual(['for dave', 'for everyone']);

    // Replay from before the private message: bob claiming to be alice still gets only what bob may see.
    const before = toAlice.body.id as string;
    const replayBob = await HttpStream.open(`${server.url}/events?id=alice&lastEventId=${before}&authorization=${mint('bob', [])}`);
    const replayAlice = await HttpStream.open(`${server.url}/events`, { 'Last-Event-ID': before, Authorization: `Bearer ${mint('alice', [])}` });
    await replayBob.waitForEvents(2);
    await replayAlice.waitForEvents(1);
    expect(replayBob.events.map((e) => e.data)).toEqual(['for bob', 'for everyone']);
    expect(replayAlice.events.map((e) => e.data)).toEqual(['for everyone']);
    expect(replayAlice.events[0]!.id).toBe(everyone.body.id);
    for (const s of [alice, bob, named, replayBob, replayAlice]) s.close();
  });

  test('"*" grants any channel', async () => {
    const s = await HttpStream.open(`${server.url}/events?channel=x&channel=y&authorization=${mint('eve', ['*'])}`);
    expect(s.status).toBe(200);
    await postJson(`${server.url}/y`, { data: 'y' }, auth);
    await s.waitForEvents(1);
    expect(s.events[0]!.data).toBe('y');
    s.close();
  });

  test('a stream ends when its token expires', async () => {
    const s = await HttpStream.open(`${server.url}/events?authorization=${mint('frank', [], { exp: inSeconds(2) })}`);
    expect(s.status).toBe(200);
    const opened = Date.now();
    await s.waitForEnd(5000);
    expect(Date.now() - opened).toBeLessThan(3500);
  });

  test("the README's token-minting example (jose) makes a token this server accepts", async () => {
    const readme = readFileSync(path.join(SERVER_DIR, 'README.md'), 'utf8');
    const code = /```js\n(\/\/ mint-token\.mjs[^\n]*\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    // Under the package's node_modules (ignored by git), so `import 'jose'` resolves as it does for a
    // user who installed it.
    const dir = mkdtempSync(path.join(SERVER_DIR, 'node_modules', '.tmp-mint-'));
    try {
      writeFileSync(path.join(dir, 'mint-token.mjs'), code!);
      const token = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['mint-token.mjs', 'grace', 'room-1', 'room-2'], { cwd: dir, env: { ...process.env, SSEHUB_JWT_SECRET: SECRET } }, (err, stdout) =>
          err ? reject(err) : resolve(stdout.trim()),
        ),
      );
      const s = await HttpStream.open(`${server.url}/events?channel=room-1&channel=room-2&authorization=${token}`);
      expect(s.status).toBe(200);
      expect((await postJson(`${server.url}/api/clients/grace`, { data: 'minted' }, auth)).body.consumers).toBe(1);
      await s.waitForEvents(1);
      s.close();
      expect((await attempt(`${server.url}/room-3?authorization=${token}`)).status).toBe(403);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('with --jwt-public-key (ES256), an issuer and an audience', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const server = await startSsehub(['--public', '--jwt-alg', 'ES256', '--jwt-issuer', 'https://auth.test', '--jwt-audience', 'ssehub', '--jwt-cookie', 'sse'], {
    SSEHUB_JWT_PUBLIC_KEY: pem,
  });
  try {
    const claims = { sub: 'henry', iss: 'https://auth.test', aud: 'ssehub', exp: inSeconds(600), ssehub: { channels: ['news'] } };
    const good = await HttpStream.open(`${server.url}/news`, { Cookie: `sse=${es256(privateKey, claims)}` });
    expect(good.status).toBe(200);
    expect((await postJson(`${server.url}/news`, { data: 'n' })).body.consumers).toBe(1);
    await good.waitForEvents(1);
    good.close();
    expect(await attempt(`${server.url}/news?authorization=${es256(privateKey, { ...claims, iss: 'https://evil.test' })}`)).toEqual({
      status: 401,
      body: "ssehub: the token's iss claim is not accepted\n",
    });
    expect((await attempt(`${server.url}/news?authorization=${es256(privateKey, { ...claims, aud: 'other' })}`)).status).toBe(401);
    expect((await attempt(`${server.url}/news?authorization=${es256(other, claims)}`)).body).toBe('ssehub: the token signature is not valid\n');
    // The cookie's name is the configured one.
    expect((await attempt(`${server.url}/news`, { Cookie: `ssehub_authorization=${es256(privateKey, claims)}` })).status).toBe(401);
  } finally {
    expect(await server.stop()).toBe(0);
  }
});
