import type { BudgetPeriod } from './admin-store.js';

/** The period `at` (ms) falls in, as stored with reservations: `day:2026-12-07`, `month:2026-12`, `total`. */
export function periodKey(period: BudgetPeriod, at: number): string {
  const iso = new Date(at).toISOString();
  if (period === 'day') return `day:${iso.slice(0, 10)}`;
  if (period === 'month') return `month:${iso.slice(0, 7)}`;
  return 'total';
}
