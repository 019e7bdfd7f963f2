import { Counters } from '../src/hub/stats';

describe('Counters', () => {
  it('counts a gap by its reason, one by default or n', () => {
    const c = new Counters();
    c.gap('expired');
    c.gap('restart', 3);
    c.gap('filled');
    expect(c.gaps).toEqual({
      expired: 1,
      'unknown-id': 0,
      restart: 3,
      unavailable: 0,
      'backplane-epoch': 0,
      'backplane-behind': 0,
      filled: 1,
    });
  });

  it('does not count, nor add, a reason outside GapKind', () => {
    const c = new Counters();
    c.gap('no-such-reason');
    c.gap('toString');
    expect(Object.keys(c.gaps).sort()).toEqual(['backplane-behind', 'backplane-epoch', 'expired', 'filled', 'restart', 'unavailable', 'unknown-id']);
    expect(Object.values(c.gaps).every((n) => n === 0)).toBe(true);
  });
});
