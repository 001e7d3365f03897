import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from './admin-store.js';
import { summarizeUsage } from './usage.js';

const entry = (fields: Partial<LedgerEntry>): LedgerEntry => ({
  taskId: 't',
  tenant: 'a',
  keyId: null,
  provider: 'acme',
  model: 'acme/v5',
  operation: 'text-to-video',
  status: 'succeeded',
  chargedMicros: 100_000,
  at: Date.parse('2026-12-07T10:00:00Z'),
  ...fields,
});

describe('summarizeUsage', () => {
  const entries = [
    entry({}),
    entry({ status: 'failed', chargedMicros: 0, keyId: 'key_1' }),
    entry({ model: 'globex/still', tenant: 'b', at: Date.parse('2026-12-08T01:00:00Z') }),
    entry({ status: 'canceled', chargedMicros: 200_000, keyId: 'key_1' }),
  ];

  it('groups by model, day, key and tenant, with exact sums', () => {
    expect(summarizeUsage(entries, 'model')).toEqual([
      { model: 'acme/v5', tasks: 3, succeeded: 1, failed: 1, charged_usd: 0.3 },
      { model: 'globex/still', tasks: 1, succeeded: 1, failed: 0, charged_usd: 0.1 },
    ]);
    expect(summarizeUsage(entries, 'day').map((r) => [r.day, r.tasks])).toEqual([
      ['2026-12-07', 3],
      ['2026-12-08', 1],
    ]);
    expect(summarizeUsage(entries, 'key').map((r) => [r.key, r.charged_usd])).toEqual([
      [null, 0.2],
      ['key_1', 0.2],
    ]);
    expect(summarizeUsage(entries, 'tenant').map((r) => [r.tenant, r.tasks])).toEqual([
      ['a', 3],
      ['b', 1],
    ]);
    expect(summarizeUsage([], 'model')).toEqual([]);
  });
});
