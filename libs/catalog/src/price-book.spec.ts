import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parsePriceBook } from './price-book';
import { withValue, without } from './spec-helpers';

function validFile(): Record<string, unknown> {
  return {
    version: '2026-11-01',
    models: {
      'sora-2': {
        family: 'video',
        meters: { video_seconds: { credits: 10, per: 1 } },
        dimensions: { resolution: { '480p': 0.5, '720p': 1, '1080p': 2 } },
      },
      'codex-1': {
        family: 'code',
        meters: { input_tokens: { credits: 0.2, per: 1000 }, output_tokens: { credits: 0.8, per: 1000 } },
      },
    },
  };
}

const set = (path: (string | number)[], value: unknown) => withValue(validFile(), path, value);
const unset = (path: (string | number)[]) => without(validFile(), path);
const sora = (...path: string[]) => ['models', 'sora-2', ...path];
const codex = (...path: string[]) => ['models', 'codex-1', ...path];

describe('parsePriceBook', () => {
  it('given a valid file, then models carry family, exact unit prices and exact factors', () => {
    const result = parsePriceBook(stringify(validFile()));
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const book = result.value;
    expect(book.version).toBe('2026-11-01');
    expect([...book.families]).toEqual(['video', 'code']);
    const codex = book.models.get('codex-1');
    expect(codex?.family).toBe('code');
    // 0.2 credits per 1000 tokens is exactly 1/5000 per token; 0.8 per 1000 is 1/1250.
    expect(codex?.meters.get('input_tokens')?.perUnit).toEqual({ num: 1, den: 5000 });
    expect(codex?.meters.get('output_tokens')?.perUnit).toEqual({ num: 1, den: 1250 });
    expect(codex?.dimensions).toEqual([]);
    // The fast path's common denominator: lcm(5000, 1250) = 5000, so input is 1/5000 and output 4/5000.
    expect(codex?.commonDen).toBe(5000);
    expect(Object.fromEntries(codex?.perUnitOverCommon ?? [])).toEqual({ input_tokens: 1, output_tokens: 4 });
    const sora = book.models.get('sora-2');
    expect(sora?.meters.get('video_seconds')?.perUnit).toEqual({ num: 10, den: 1 });
    expect(Object.fromEntries(sora?.dimensionsByName.get('resolution')?.values ?? [])).toEqual({
      '480p': { num: 1, den: 2 },
      '720p': { num: 1, den: 1 },
      '1080p': { num: 2, den: 1 },
    });
  });

  it('given a meter without per, then per is 1', () => {
    const result = parsePriceBook(unset(sora('meters', 'video_seconds', 'per')));
    expect(result.ok && result.value.models.get('sora-2')?.meters.get('video_seconds')?.per).toBe(1);
  });

  type Case = [label: string, yaml: string, path: string, message: RegExp];
  const cases: Case[] = [
    ['YAML syntax', 'models: {\n', '', /YAML syntax error/],
    ['unquoted numeric version', set(['version'], 3), 'version', /expected string/],
    ['version with spaces', set(['version'], 'v 1'), 'version', /quote it/],
    ['no models', set(['models'], {}), 'models', /at least one model/],
    ['bad model id', set(['models', 'sora 2'], {}), 'models.sora 2', /invalid name/],
    ['missing family', unset(sora('family')), 'models.sora-2.family', /expected string/],
    ['unknown model field', set(sora('price'), 1), 'models.sora-2.price', /unknown field/],
    ['no meters', set(sora('meters'), {}), 'models.sora-2.meters', /at least one meter/],
    ['meter not snake_case', set(sora('meters'), { VideoSeconds: { credits: 1 } }), 'models.sora-2.meters.VideoSeconds', /snake_case/],
    ['negative price', set(sora('meters', 'video_seconds', 'credits'), -1), 'models.sora-2.meters.video_seconds.credits', />=0/],
    ['price with 7 decimals', set(codex('meters', 'input_tokens', 'credits'), 0.0000001), 'models.codex-1.meters.input_tokens.credits', /at most 6 decimal places/],
    ['per zero', set(codex('meters', 'input_tokens', 'per'), 0), 'models.codex-1.meters.input_tokens.per', />=1/],
    ['per fractional', set(codex('meters', 'input_tokens', 'per'), 2.5), 'models.codex-1.meters.input_tokens.per', /int/],
    ['per above max', set(codex('meters', 'input_tokens', 'per'), 1e7), 'models.codex-1.meters.input_tokens.per', /<=1000000/],
    ['dimension without values', set(sora('dimensions', 'resolution'), {}), 'models.sora-2.dimensions.resolution', /at least one value/],
    ['factor not a number', set(sora('dimensions', 'resolution', '720p'), 'one'), 'models.sora-2.dimensions.resolution.720p', /expected number/],
    ['factor with 7 decimals', set(sora('dimensions', 'resolution', '720p'), 1.0000001), 'models.sora-2.dimensions.resolution.720p', /at most 6 decimal places/],
    ['dimension value with a space', set(sora('dimensions', 'resolution', '4 k'), 4), 'models.sora-2.dimensions.resolution.4 k', /invalid name/],
  ];

  it.each(cases)('given %s, then an error at its path', (_label, yaml, path, message) => {
    const result = parsePriceBook(yaml);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toContainEqual({ path, message: expect.stringMatching(message) });
  });
});
