// The byte budget on its own clock (ns): a full bucket first, refills at the
// rate up to its capacity, a row that does not fit whole is refused (never
// half-charged), the total cap is exact, and a longest row can always pass
// once the bucket is full (capacity = max(rate, longest row)).
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../../src/collectors/guest_agent/byte-budget.js';

const S = 1e9;

describe('ByteBudget', () => {
  it('starts full, refuses what does not fit, refills at the rate up to the capacity', () => {
    const b = new ByteBudget(1000, 1e9, 100);
    expect(b.capacity).toBe(1000);
    expect(b.check(1000, 0)).toBe('ok');
    b.charge(1000, 0);
    expect(b.check(1, 0)).toBe('byte_rate');
    expect(b.check(500, 0.5 * S)).toBe('ok');
    expect(b.check(501, 0.5 * S)).toBe('byte_rate');
    expect(b.check(1000, 10 * S)).toBe('ok'); // capped at the capacity, not 10 s worth
    expect(b.check(1001, 10 * S)).toBe('byte_rate');
    expect(b.written).toBe(1000);
  });

  // regression for: a bucket of one second's worth smaller than max_line_bytes would refuse a longest line forever.
  it('holds one longest row when that is more than a second\'s worth', () => {
    const b = new ByteBudget(64, 1e9, 5000);
    expect(b.capacity).toBe(5000);
    expect(b.check(5000, 0)).toBe('ok');
  });

  it('the total cap is exact and wins over the rate', () => {
    const b = new ByteBudget(1e6, 1500, 100);
    b.charge(1000, 0);
    expect(b.check(500, 0)).toBe('ok');
    expect(b.check(501, 0)).toBe('total_cap');
    b.charge(500, 0);
    expect(b.check(1, 100 * S)).toBe('total_cap');
  });

  it('time going back refills nothing', () => {
    const b = new ByteBudget(1000, 1e9, 100);
    b.charge(1000, 5 * S);
    expect(b.check(1, 4 * S)).toBe('byte_rate');
    expect(b.check(1, 5 * S)).toBe('byte_rate');
  });
});
