import { describe, expect, it } from 'vitest';
import { expiredPartitions, isExpired, monthEndMs, monthOf } from './retention';

const now = Date.parse('2026-11-25T10:00:00.000Z');

describe('retention by month partition', () => {
  it.each([
    [202611, '2026-12-01T00:00:00.000Z'],
    [202612, '2027-01-01T00:00:00.000Z'],
    [202602, '2026-03-01T00:00:00.000Z'],
  ])('month %i ends at %s', (month, end) => {
    expect(new Date(monthEndMs(month)).toISOString()).toBe(end);
  });

  it('drops a month only once all of it is older than the retention period', () => {
    // 30 days back from 2026-11-25 is 2026-10-26: October is not wholly older yet, September is.
    expect(expiredPartitions(['202611', '202610', '202609', '202508'], now, 30)).toEqual(['202508', '202609']);
  });

  it('never drops partitions that are not months', () => {
    expect(expiredPartitions(['tuple()', '20261125', '202613', 'all'], now, 1)).toEqual([]);
  });

  it('treats a row as expired exactly when its month partition would be dropped', () => {
    for (const iso of ['2026-09-30T23:59:59.999Z', '2026-10-01T00:00:00.000Z', '2026-11-25T09:00:00.000Z']) {
      const t = Date.parse(iso);
      expect(isExpired(t, now, 30)).toBe(expiredPartitions([String(monthOf(t))], now, 30).length === 1);
    }
  });
});
