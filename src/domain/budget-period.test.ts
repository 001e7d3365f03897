import { describe, expect, it } from 'vitest';
import { periodKey } from './budget-period.js';

describe('periodKey', () => {
  it('names UTC days and months, and one period for totals', () => {
    const at = Date.parse('2026-12-31T23:59:59.999Z');
    expect(periodKey('day', at)).toBe('day:2026-12-31');
    expect(periodKey('day', at + 1)).toBe('day:2027-01-01');
    expect(periodKey('month', at)).toBe('month:2026-12');
    expect(periodKey('month', at + 1)).toBe('month:2027-01');
    expect(periodKey('total', at)).toBe('total');
  });
});
