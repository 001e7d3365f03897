/**
 * Fair shares of one provider's credential slots and wait-queue places between tenants: a
 * pure policy over a snapshot of counts (this process's today; a cluster's once they are
 * shared), so it decides the same wherever the counts come from.
 *
 * A tenant's share is its weight over the weights of the tenants contending for the provider
 * (holding a slot or waiting for one), itself included. A tenant may borrow capacity nobody
 * else asks for, but never starves another:
 * - a freed slot goes to the waiting tenant with the fewest slots per weight (below its share
 *   before those at or above it), first come first served between equals;
 * - a tenant at or above its share of places (slots held plus places waited in) may not take
 *   the last free places of the queue while other contending tenants are below theirs;
 * - a tenant below its share that finds the queue full takes the place of the newest waiter
 *   of the tenant furthest above its share (that create is refused as if the queue were full).
 */

/** What one tenant holds of a provider. */
export interface TenantLoad {
  /** Slots held: tasks in flight on the provider's credentials. */
  inFlight: number;
  /** Creates waiting in the provider's queue. */
  waiting: number;
}

/** A provider's capacity and who holds it. */
export interface SlotLoad {
  /** Slots of the credentials in rotation; Infinity when uncapped. */
  capacity: number;
  /** Places of the wait queue. */
  queueMax: number;
  /** Per tenant (tenants holding nothing may be absent). */
  tenants: ReadonlyMap<string, TenantLoad>;
}

/** A tenant's weight (default 1): shares are proportional to it. */
export type WeightOf = (tenant: string) => number;

export type QueueDecision =
  { admit: true; displace?: string } | { admit: false; reason: 'full' | 'share' };

const EMPTY: TenantLoad = { inFlight: 0, waiting: 0 };
const loadOf = (load: SlotLoad, tenant: string) => load.tenants.get(tenant) ?? EMPTY;
const usageOf = (t: TenantLoad) => t.inFlight + t.waiting;

/**
 * The tenants contending for the provider (holding or waiting), `asker` included, and each
 * one's share of the places (slots plus queue places) among them.
 */
function contendersWith(load: SlotLoad, asker: string, weightOf: WeightOf) {
  const ids = new Set([asker]);
  for (const [id, t] of load.tenants) if (usageOf(t) > 0) ids.add(id);
  let total = 0;
  for (const id of ids) total += weightOf(id);
  const places = load.capacity + load.queueMax;
  return {
    ids,
    part: (id: string) => weightOf(id) / total,
    /** Whether `id` holds at least its share of places. */
    atOrAbove: (id: string) => usageOf(loadOf(load, id)) >= (places * weightOf(id)) / total,
    /** How far above its share `id` is (usage over share). */
    excess: (id: string) => usageOf(loadOf(load, id)) / ((places * weightOf(id)) / total),
  };
}

/** `tenant`'s share of the slots and of all places (slots plus queue places). */
export function shareOf(
  load: SlotLoad,
  tenant: string,
  weightOf: WeightOf,
): { slots: number; places: number } {
  const part = contendersWith(load, tenant, weightOf).part(tenant);
  return { slots: load.capacity * part, places: (load.capacity + load.queueMax) * part };
}

/**
 * The order in which waiters are offered the next freed slot: fewest slots held per weight
 * first (so a tenant below its share goes before one at or above it), then arrival order.
 */
export function servingOrder<W extends { tenant: string; seq: number }>(
  waiters: readonly W[],
  load: SlotLoad,
  weightOf: WeightOf,
): W[] {
  const ratio = (tenant: string) => loadOf(load, tenant).inFlight / weightOf(tenant);
  return [...waiters].sort((a, b) => ratio(a.tenant) - ratio(b.tenant) || a.seq - b.seq);
}

/** Whether `tenant` may wait in the queue for a slot, and whose waiter it displaces if so. */
export function queueAdmission(load: SlotLoad, tenant: string, weightOf: WeightOf): QueueDecision {
  let waiting = 0;
  for (const t of load.tenants.values()) waiting += t.waiting;
  const free = load.queueMax - waiting;
  const shares = contendersWith(load, tenant, weightOf);
  const above = shares.atOrAbove(tenant);
  if (free > 0) {
    if (!above) return { admit: true };
    // Keep a place for each other contending tenant still below its share.
    let reserve = 0;
    for (const id of shares.ids) if (id !== tenant && !shares.atOrAbove(id)) reserve++;
    return free > reserve ? { admit: true } : { admit: false, reason: 'share' };
  }
  if (above) return { admit: false, reason: 'full' };
  // Below its share in a full queue: the newest waiter of the tenant furthest above its share.
  let displace: string | undefined;
  let worst = 1;
  for (const [id, t] of load.tenants) {
    if (id === tenant || t.waiting === 0) continue;
    const excess = shares.excess(id);
    if (excess > worst) {
      worst = excess;
      displace = id;
    }
  }
  return displace ? { admit: true, displace } : { admit: false, reason: 'full' };
}
