import { describe, expect, it } from 'vitest';
import { adjustmentBody } from './schemas';

describe('adjustmentBody', () => {
  it.each([
    ['U+0000', 'refund\u0000'],
    ['a lone surrogate', 'refund \ud800'],
  ])('given a reason with %s (Postgres cannot store it), then invalid, naming reason', (_name, reason) => {
    const result = adjustmentBody.safeParse({ adjustmentId: 'adj-1', credits: 5, reason });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['reason']);
  });

  it('given a reason with an emoji (a surrogate pair), then valid', () => {
    expect(adjustmentBody.safeParse({ adjustmentId: 'adj-1', credits: 5, reason: 'refund \ud83d\ude00' }).success).toBe(true);
  });
});
