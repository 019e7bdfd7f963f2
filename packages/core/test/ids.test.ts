/** The hub's event ids: what it tells apart after a restart, and the unique ids used with a backplane. */
import { IdSource } from '../src/hub/ids';

describe('IdSource', () => {
  it('gives base + seq, and tells its own ids from earlier and foreign ones', () => {
    const ids = new IdSource();
    const first = ids.idOf(ids.next());
    const second = ids.idOf(ids.next());
    expect(Number(second) - Number(first)).toBe(1);
    expect(ids.originOf(first)).toBe('ours');
    // The newest id is ours; one past it is no id this hub gave.
    expect(ids.originOf(second)).toBe('ours');
    expect(ids.originOf(String(ids.base + 3))).toBe('foreign');
    // The base itself and anything below it: an earlier process (ids start at base + 1).
    expect(ids.originOf(String(ids.base))).toBe('earlier');
    expect(ids.originOf('0')).toBe('earlier');
  });

  it.each(['abc', '12x', 'x12', '', ' 12', '1e3', '0x10', '-5', '1.5'])('calls %j foreign: only plain decimal digits are hub ids', (id) => {
    const ids = new IdSource();
    ids.next();
    expect(ids.originOf(id)).toBe('foreign');
  });

  it('makes unique ids of a prefix (time and 6 random base-36 characters) and a counter', () => {
    const ids = new IdSource();
    const a = ids.uid();
    const b = ids.uid();
    expect(a).toMatch(/^[0-9a-z]+-1$/);
    expect(b).toBe(a.replace(/-1$/, '-2'));
    const prefix = a.slice(0, -2);
    expect(prefix.slice(0, -6)).toBe(prefix.slice(0, -6).replace(/[^0-9a-z]/g, ''));
    expect(prefix.length).toBeGreaterThan(6);
    expect(new IdSource().uid()).not.toBe(a);
  });
});
