/**
 * Quiet streams (nothing broadcast for a while) on the real Bun and Deno, each a child process
 * serving packages/testing/runtime/app.ts. Bun.serve closes a connection that has sent and received
 * nothing for `idleTimeout` seconds (default 10), and it checks on a 4-second grid: a connection is
 * dropped at the ceil(idleTimeout / 4)-th grid tick after its last activity, so after a quiet spell
 * of somewhat less than `idleTimeout` (just over 8 s for the default 10). Deno.serve has no such
 * timeout. These tests back the Runtimes part of packages/hono/README.md and the Bun part of
 * packages/fetch/README.md; when a binary is missing they fail, saying so.
 */
import net from 'node:net';
import { HttpStream, sleep, waitUntil } from '../src/clients';
import { broadcast, openWithin, startRuntime, type RuntimeApp, type RuntimeName, type RuntimeServer } from '../src/runtimes';

const servers: RuntimeServer[] = [];
const streams: HttpStream[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function serve(runtime: RuntimeName, env: Record<string, string>, app: RuntimeApp = 'hono'): Promise<RuntimeServer> {
  const server = await startRuntime(runtime, env, app);
  servers.push(server);
  return server;
}

async function quietStream(server: RuntimeServer): Promise<HttpStream> {
  const stream = await openWithin(`${server.origin}/events`, 3000);
  streams.push(stream);
  return stream;
}

/** Expects `stream` to be open still and to take one more event. */
async function expectAlive(server: RuntimeServer, stream: HttpStream, data: string): Promise<void> {
  expect(stream.ended).toBe(false);
  const before = stream.events.length;
  await broadcast(server.origin, data);
  await stream.waitForEvents(before + 1);
  expect(stream.events[before]!.data).toBe(data);
}

it("drops a quiet stream at Bun's default idleTimeout; the README's mounts keep it: Bun with idleTimeout: 0, server.timeout(req, 0) or a 5 s heartbeat, Deno as it is", async () => {
  // Every hub on the default 15 s heartbeat, which comes too late for Bun's default, except `beating`'s.
  // And @ssehub/fetch's handler under Bun.serve, bare and with idleTimeout: 0, as its README mounts it.
  const [bare, zero, perRoute, beating, deno, fetchBare, fetchZero] = await Promise.all([
    serve('bun', {}),
    serve('bun', { IDLE_TIMEOUT: '0' }),
    serve('bun', { STREAM_TIMEOUT: '0' }),
    serve('bun', { HEARTBEAT: '5000' }),
    serve('deno', {}),
    serve('bun', {}, 'fetch'),
    serve('bun', { IDLE_TIMEOUT: '0' }, 'fetch'),
  ]);
  const [bareStream, zeroStream, perRouteStream, beatingStream, denoStream, fetchBareStream, fetchZeroStream] = await Promise.all(
    [bare, zero, perRoute, beating, deno, fetchBare, fetchZero].map(quietStream),
  );
  const opened = Date.now();
  await bareStream!.waitForEnd(14_000);
  await fetchBareStream!.waitForEnd(Math.max(500, opened + 14_000 - Date.now()));
  expect(bare.stderr()).toMatch(/timed out a request after 10 seconds/);
  expect(fetchBare.stderr()).toMatch(/timed out a request after 10 seconds/);
  // Past the bare mount's drop, and past 10 s of quiet.
  await sleep(Math.max(500, opened + 10_500 - Date.now()));
  // The lead alone so far: no heartbeat (due at 15 s) kept these open.
  for (const s of [zeroStream, perRouteStream, denoStream, fetchZeroStream]) expect(s!.comments).toEqual(['']);
  expect(beatingStream!.comments.length).toBeGreaterThanOrEqual(3); // the lead and two heartbeats
  await expectAlive(zero, zeroStream!, 'kept by idleTimeout: 0');
  await expectAlive(perRoute, perRouteStream!, 'kept by server.timeout(req, 0)');
  await expectAlive(beating, beatingStream!, 'kept by heartbeats');
  await expectAlive(deno, denoStream!, 'kept by Deno');
  await expectAlive(fetchZero, fetchZeroStream!, '@ssehub/fetch kept by idleTimeout: 0');
  for (const s of [zero, perRoute, beating, deno, fetchZero]) expect(s.stderr()).toBe('');
}, 30_000);

it('checks idleTimeout on a 4 s grid: with idleTimeout 8, a 3 s heartbeat holds a quiet stream, a 5 s one may not', async () => {
  const [short, long, silent] = await Promise.all([
    serve('bun', { IDLE_TIMEOUT: '8', HEARTBEAT: '3000' }),
    serve('bun', { IDLE_TIMEOUT: '8', HEARTBEAT: '5000' }),
    serve('bun', { IDLE_TIMEOUT: '8', HEARTBEAT: '60000' }),
  ]);
  // On `long`, a plain request starts Bun's 4 s grid; the stream opens 2.5 s later, so its heartbeats
  // (at 7.5 s, 12.5 s) land just before grid ticks: after the one at 7.5 s, Bun drops it at the
  // 2nd tick, 12 s, before the next heartbeat. Elsewhere the first socket is the stream itself.
  const gridStart = net.connect(long.port, '127.0.0.1');
  sockets.push(gridStart);
  gridStart.setEncoding('latin1');
  let answer = '';
  gridStart.on('data', (s: string) => (answer += s));
  gridStart.on('error', () => {});
  gridStart.write('GET /state HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await waitUntil(() => answer.includes('\r\n\r\n'), 'the plain request to be answered', 3000);
  const started = Date.now();
  const [shortStream, silentStream] = await Promise.all([quietStream(short), quietStream(silent)]);
  await sleep(started + 2500 - Date.now());
  const longStream = await quietStream(long);

  await silentStream.waitForEnd(10_000);
  await longStream.waitForEnd(12_000);
  expect(longStream.comments.length).toBeGreaterThanOrEqual(2); // the lead and at least one heartbeat
  await sleep(500);
  await expectAlive(short, shortStream, 'kept by 3 s heartbeats');
  expect(shortStream.comments.length).toBeGreaterThanOrEqual(4);
}, 30_000);
