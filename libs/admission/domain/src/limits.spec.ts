import { describe, expect, it } from 'vitest';
import { admissionLimits, validateAdmissionLimits } from './limits';

describe('admissionLimits', () => {
  it('the shipped limits are valid', () => {
    expect(validateAdmissionLimits(admissionLimits)).toEqual([]);
  });

  it.each([
    ['a zero maximum', { ...admissionLimits, accountsMax: 0 }, /accountsMax must be a positive integer/],
    ['a fractional maximum', { ...admissionLimits, openAdmissionsMax: 1.5 }, /openAdmissionsMax must be a positive integer/],
    ['a rate limit whose arithmetic would leave float64 integers', { ...admissionLimits, effectiveRateLimitMax: 1e12 }, /below 2\^51/],
  ])('given %s, then a problem is reported', (_label, limits, problem) => {
    expect(validateAdmissionLimits(limits)).toContainEqual(expect.stringMatching(problem));
  });
});
