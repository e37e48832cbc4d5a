import { describe, expect, it } from 'vitest';
import { accountDecisions, accountOpenHolds, accountUsage, bucketsOf, decisionsByOutcome, searchAccounts, toSeries } from './queries';

describe('console queries', () => {
  it.each([
    ['plain', 'acct-1', "'acct-1'"],
    ['a quote cannot end the string', "x' OR 1=1 --", "'x\\' OR 1=1 --'"],
    ['a backslash stays a backslash', 'a\\b', "'a\\\\b'"],
  ])('an account id is quoted (%s)', (_name, id, literal) => {
    for (const query of [accountDecisions(id, 5), accountOpenHolds(id, 5), accountUsage(id, 60, 10)]) {
      expect(query).toContain(`account_id = ${literal}`);
    }
    expect(searchAccounts(id, 5)).toContain(`positionCaseInsensitive(account_id, ${literal})`);
  });

  it('buckets by whole numbers of seconds', () => {
    expect(decisionsByOutcome(900, 10)).toContain('intDiv(toUInt32(time), 10) * 10 AS t');
    expect(decisionsByOutcome(900, 10)).toContain('time >= now() - 900');
  });

  it('turns rows into aligned series, null where a key has no row at a time', () => {
    const rows = [
      { t: 20, k: 'a', v: 2 },
      { t: 10, k: 'a', v: 1 },
      { t: 20, k: 'b', v: 5 },
    ];
    expect(toSeries(rows, (r) => r.t, (r) => r.k, (r) => r.v)).toEqual({ t: [10, 20], series: { a: [1, 2], b: [null, 5] } });
    expect(toSeries([], (r: { t: number }) => r.t, () => '', () => 0)).toEqual({ t: [], series: {} });
  });

  it('on a fixed axis, fills what has no row and drops rows outside it', () => {
    const rows = [
      { t: 20, k: 'a', v: 2 },
      { t: 50, k: 'a', v: 9 },
    ];
    expect(toSeries(rows, (r) => r.t, (r) => r.k, (r) => r.v, [10, 20, 30], 0)).toEqual({ t: [10, 20, 30], series: { a: [0, 2, 0] } });
  });

  it.each([
    [125, 60, 10, [60, 70, 80, 90, 100, 110, 120]],
    [120, 30, 30, [90, 120]],
  ])('the buckets of a window ending at %i (%i s wide, by %i s)', (now, window, bucket, expected) => {
    expect(bucketsOf(now, window, bucket)).toEqual(expected);
  });
});
