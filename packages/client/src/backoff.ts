/**
 * The wait before the next attempt. After a stream that opened (`failures` 0 or 1) it is exactly
 * `retry`, as a browser waits; each further failure in a row doubles it up to `maxRetry`, with
 * jitter (a random point in the upper half) so clients cut off together do not return together.
 * It never goes below `retry`, which the server may have set higher than `maxRetry`.
 */
export function backoffDelay(failures: number, retry: number, maxRetry: number, random: () => number = Math.random): number {
  if (failures <= 1) return retry;
  // 2 ** 30 already exceeds any sane cap; the bound keeps the product finite.
  const ceiling = Math.min(maxRetry, retry * 2 ** Math.min(failures - 1, 30));
  return Math.max(retry, ceiling / 2 + random() * (ceiling / 2));
}
