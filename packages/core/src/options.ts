/**
 * The one check for numeric options, used by the hub, the stream options and the publish API, so
 * every bad option fails the same way when it is given, not on a request.
 * @param min the smallest value allowed (0 or 1).
 * @param infinite whether `Infinity` means "no limit" here.
 * @throws TypeError naming the option and the value it got.
 */
export function checkCount(name: string, value: unknown, min = 0, infinite = false): void {
  if (infinite && value === Infinity) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const allowed = `an integer >= ${min}${infinite ? ' or Infinity' : ''}`;
    throw new TypeError(`ssehub: option ${name} must be ${allowed}, got ${String(value)}`);
  }
}
