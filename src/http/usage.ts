import type { AdminStore } from '../domain/admin-store.js';
import { summarizeUsage, type UsageGroup, type UsageRow } from '../domain/usage.js';
import { GatewayError } from '../errors/gateway-error.js';

export interface UsageQuery {
  from?: string;
  to?: string;
  group_by: UsageGroup;
}

/** The start of the UTC month `now` is in. */
const monthStart = (now: number) => {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};

/** Usage of one tenant (or all) from the ledger: `from` inclusive, `to` exclusive. */
export async function usageOf(
  admin: AdminStore,
  query: UsageQuery,
  now: number,
  tenant?: string,
): Promise<{ data: UsageRow[] }> {
  const from = query.from ? Date.parse(query.from) : monthStart(now);
  const to = query.to ? Date.parse(query.to) : now + 1;
  if (to < from) {
    throw GatewayError.invalid([{ path: 'query.to', message: 'must not be before from' }]);
  }
  const entries = await admin.ledger({ ...(tenant ? { tenant } : {}), from, to });
  return { data: summarizeUsage(entries, query.group_by) };
}
