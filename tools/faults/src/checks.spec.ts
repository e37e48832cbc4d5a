import { describe, expect, it } from 'vitest';
import { oneInstanceAdmits } from './checks';

// The fault suite's yardstick for exact limits across replicas: what one instance admits at given decision times.
describe('oneInstanceAdmits', () => {
  const t0 = Date.parse('2026-12-07T23:41:05.883Z');
  const at = (...offsetsMs: number[]) => offsetsMs.map((ms) => t0 + ms);

  it.each([
    { name: 'a fast burst: the limit, then rejections', times: at(...Array.from({ length: 14 }, (_, i) => i * 10)), limit: 10, admitted: 10 },
    { name: 'a burst slower than the refill interval (6 s at 10 a minute) gets one more', times: at(...Array.from({ length: 14 }, (_, i) => i * 800)), limit: 10, admitted: 11 },
    { name: 'one request every refill interval is always admitted', times: at(...Array.from({ length: 14 }, (_, i) => i * 6_000)), limit: 10, admitted: 14 },
    { name: 'a lowered limit (load feedback at 0.5)', times: at(...Array.from({ length: 14 }, (_, i) => i)), limit: 5, admitted: 5 },
  ])('$name', ({ times, limit, admitted }) => {
    expect(oneInstanceAdmits(times, limit).filter(Boolean)).toHaveLength(admitted);
  });

  it('admits again exactly when one request has been repaid, not a millisecond before', () => {
    const burst = Array.from({ length: 10 }, () => t0);
    expect(oneInstanceAdmits([...burst, t0 + 5_999], 10).at(-1)).toBe(false);
    expect(oneInstanceAdmits([...burst, t0 + 6_000], 10).at(-1)).toBe(true);
  });

  it('the real failure of run faults_8c8f12f141ec41fa: 11 admitted over 10.2 s was right', () => {
    const admittedAt = ['05.883', '07.207', '07.983', '09.238', '10.397', '10.866', '12.055', '13.285', '14.297', '15.509', '16.063'];
    const rejectedAt = ['16.875', '16.932', '16.937'];
    const times = [...admittedAt, ...rejectedAt].map((s) => Date.parse(`2026-12-07T23:41:${s}Z`));
    expect(oneInstanceAdmits(times, 10)).toEqual([...admittedAt.map(() => true), ...rejectedAt.map(() => false)]);
  });
});
