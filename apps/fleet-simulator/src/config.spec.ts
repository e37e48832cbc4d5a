import { describe, expect, it } from 'vitest';
import { parseEnv } from '@access/platform-config';
import { fleetEnvSchema, fleetsFromEnv } from './config';

describe('fleet simulator configuration', () => {
  it('reads model:capacity pairs into one fleet per model', () => {
    const env = parseEnv(fleetEnvSchema, { FLEET_MODELS: 'codex-1:8000, sora-2:1500', FLEET_REGION: 'eu-1' });
    expect(fleetsFromEnv(env)).toEqual([
      expect.objectContaining({ model: 'codex-1', region: 'eu-1', capacityCreditsPerSecond: 8000 }),
      expect.objectContaining({ model: 'sora-2', region: 'eu-1', capacityCreditsPerSecond: 1500 }),
    ]);
  });

  it.each(['codex-1', 'codex-1:0', 'codex-1:-5', 'bad model:10', ''])('refuses FLEET_MODELS=%j, naming the variable', (value) => {
    expect(() => parseEnv(fleetEnvSchema, { FLEET_MODELS: value })).toThrow(/FLEET_MODELS/);
  });
});
