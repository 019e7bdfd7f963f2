/** The reconnect delay and Retry-After parsing, as pure functions (the timing through real servers is in the other suites). */
import { backoffDelay } from '../src/backoff';
import { parseRetryAfter } from '../src/stream-error';

describe('backoffDelay', () => {
  it('waits exactly retry after a stream that opened, and after its first failure', () => {
    expect(backoffDelay(0, 3000, 30_000, () => 0.99)).toBe(3000);
    expect(backoffDelay(1, 3000, 30_000, () => 0.99)).toBe(3000);
  });

  it('doubles per failure in a row, with jitter in the upper half, up to maxRetry', () => {
    expect([backoffDelay(2, 1000, 30_000, () => 0), backoffDelay(2, 1000, 30_000, () => 1)]).toEqual([1000, 2000]);
    expect([backoffDelay(3, 1000, 30_000, () => 0), backoffDelay(3, 1000, 30_000, () => 1)]).toEqual([2000, 4000]);
    expect([backoffDelay(50, 1000, 30_000, () => 0), backoffDelay(50, 1000, 30_000, () => 1)]).toEqual([15_000, 30_000]);
  });

  it("never goes below retry, which the server may set above maxRetry", () => {
    expect(backoffDelay(4, 60_000, 30_000, () => 0)).toBe(60_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates as ms, and ignores anything else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('5', now)).toBe(5000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
