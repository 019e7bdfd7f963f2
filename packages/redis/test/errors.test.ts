/**
 * What the backplane throws and reports, by kind: bad options throw a `TypeError`; runtime trouble
 * reaches the hub's `onError` as an `SseHubError` whose `code` says what happened. Driven through a
 * bare handler (no hub, no HTTP), against a port with nothing on it and the shared Redis.
 */
import { SseHubError, type BackplaneHandler, type BackplaneRecord, type BackplaneState } from '@ssehub/core';
import { RedisBackplane, redisBackplane } from '@ssehub/redis';
import { failOnUnhandledRejections, waitUntil } from '../../testing/src/clients';
import { REDIS_URL, dropPrefix, freePort, requireRedis, uniquePrefix } from './redis-helpers';

failOnUnhandledRejections();

/** A handler that records what the backplane reports. */
function recorder() {
  const errors: unknown[] = [];
  const states: { state: BackplaneState; error?: unknown }[] = [];
  const handler: BackplaneHandler = {
    deliver: () => undefined,
    advance: () => undefined,
    reset: () => undefined,
    error: (err) => errors.push(err),
    state: (state, detail) => states.push({ state, error: detail?.error }),
  };
  return { handler, errors, states };
}

const record = (n: number): BackplaneRecord => ({ uid: `u${n}`, id: `e${n}`, data: `d${n}`, json: false });

test('bad options and a second hub throw TypeError, at once', async () => {
  for (const bad of [{ maxLen: 0 }, { batch: 1.5 }, { maxOutbox: -1 }, { block: Number.NaN }, { timeout: 0 }]) {
    expect(() => redisBackplane(bad)).toThrow(TypeError);
  }
  expect(() => redisBackplane({ prefix: '' })).toThrow(/option prefix must be a non-empty string/);
  const backplane = new RedisBackplane({ url: REDIS_URL, prefix: uniquePrefix('errors') });
  backplane.attach(recorder().handler);
  try {
    expect(() => backplane.attach(recorder().handler)).toThrow(TypeError);
  } finally {
    await backplane.close();
  }
});

test('Redis out of reach: one BACKPLANE_UNAVAILABLE, BACKPLANE_OUTBOX_FULL per dropped broadcast, BACKPLANE_UNPUBLISHED at close', async () => {
  const port = await freePort();
  const backplane = redisBackplane({ url: `redis://127.0.0.1:${port}`, maxOutbox: 2, timeout: 200 });
  const { handler, errors, states } = recorder();
  backplane.attach(handler);
  await waitUntil(() => backplane.state === 'outage', 'the outage');
  for (let n = 0; n < 3; n++) backplane.publish(record(n));
  await backplane.close();

  expect(errors.every((e) => e instanceof SseHubError)).toBe(true);
  expect((errors as SseHubError[]).map((e) => e.code)).toEqual(['BACKPLANE_UNAVAILABLE', 'BACKPLANE_OUTBOX_FULL', 'BACKPLANE_UNPUBLISHED']);
  const [outage, full, unpublished] = errors as SseHubError[];
  expect(outage!.message).toMatch(new RegExp(`Redis at 127\\.0\\.0\\.1:${port} unreachable`));
  // The connection's own error says why.
  expect(outage!.cause).toMatchObject({ code: 'ECONNREFUSED' });
  expect(outage!.message).toMatch(/ECONNREFUSED/);
  expect(full!.message).toMatch(/outbox full \(2 broadcasts .*dropped the oldest, e0/);
  expect(unpublished!.message).toMatch(/closed with 2 broadcasts not published/);
  // The state change carries the same error.
  expect(states.find((s) => s.state === 'outage')?.error).toBe(outage);
});

test('a replay that Redis fails rejects with BACKPLANE_REPLAY_FAILED, with Redis error as its cause', async () => {
  await requireRedis();
  const prefix = uniquePrefix('errors');
  const backplane = new RedisBackplane({ url: REDIS_URL, prefix });
  const { handler, errors } = recorder();
  backplane.attach(handler);
  try {
    await backplane.ready();
    // In step with Redis first: on a loaded machine a slow command can mark the link hung for a moment,
    // and a replay then takes the gap path ('unavailable') without reading, which is not what this tests.
    await waitUntil(() => backplane.connected, 'the backplane in step with Redis');
    const refusal = new Error('ERR the index is unreadable');
    // The id lookup fails once, as a command Redis refuses would.
    const cmd = (backplane as unknown as { cmd: { hget: (...args: unknown[]) => Promise<string | null> } }).cmd;
    jest.spyOn(cmd, 'hget').mockRejectedValueOnce(refusal);
    const replay = backplane.replay('some-id', 10);
    await expect(replay).rejects.toBeInstanceOf(SseHubError);
    await expect(replay).rejects.toMatchObject({ code: 'BACKPLANE_REPLAY_FAILED', cause: refusal });
    await expect(replay).rejects.toThrow(/replay after event "some-id" from Redis at 127\.0\.0\.1:\d+ failed: ERR the index is unreadable/);
    // The next one reads normally: an unknown id is a gap, not an error.
    await expect(backplane.replay('some-id', 10)).resolves.toEqual({ kind: 'gap', reason: 'unknown-id' });
    expect(errors).toEqual([]);
  } finally {
    await backplane.close();
    await dropPrefix(prefix);
  }
});
