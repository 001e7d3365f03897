import { describe, expect, it } from 'vitest';
import {
  queueAdmission,
  servingOrder,
  shareOf,
  type SlotLoad,
  type TenantLoad,
} from './fair-share.js';

const even = () => 1;
const load = (
  capacity: number,
  queueMax: number,
  tenants: Record<string, Partial<TenantLoad>>,
): SlotLoad => ({
  capacity,
  queueMax,
  tenants: new Map(
    Object.entries(tenants).map(([id, t]) => [id, { inFlight: 0, waiting: 0, ...t }]),
  ),
});

describe('shareOf', () => {
  it('splits by weight among the tenants contending (holding or waiting), the asker included', () => {
    const l = load(5, 10, { a: { inFlight: 5 }, idle: {} });
    expect(shareOf(l, 'a', even)).toEqual({ slots: 5, places: 15 });
    expect(shareOf(l, 'b', even)).toEqual({ slots: 2.5, places: 7.5 });
    const weighted = (t: string) => (t === 'b' ? 3 : 1);
    expect(shareOf(l, 'b', weighted).slots).toBe(3.75);
  });
});

describe('servingOrder', () => {
  it('offers a freed slot to the waiter holding the fewest slots per weight, then by arrival', () => {
    const l = load(5, 10, { a: { inFlight: 5, waiting: 2 }, b: { waiting: 1 } });
    const waiters = [
      { tenant: 'a', seq: 1 },
      { tenant: 'a', seq: 2 },
      { tenant: 'b', seq: 3 },
    ];
    expect(servingOrder(waiters, l, even).map((w) => w.seq)).toEqual([3, 1, 2]);
    // Weights: a holds 4 with weight 4 (1 per weight) and goes before b holding 2 (2 per weight).
    const l2 = load(6, 10, { a: { inFlight: 4, waiting: 1 }, b: { inFlight: 2, waiting: 1 } });
    const w2 = [
      { tenant: 'b', seq: 1 },
      { tenant: 'a', seq: 2 },
    ];
    expect(servingOrder(w2, l2, (t) => (t === 'a' ? 4 : 1)).map((w) => w.tenant)).toEqual([
      'a',
      'b',
    ]);
  });

  it('is arrival order for one tenant', () => {
    const l = load(1, 10, { a: { inFlight: 1, waiting: 3 } });
    const waiters = [3, 1, 2].map((seq) => ({ tenant: 'a', seq }));
    expect(servingOrder(waiters, l, even).map((w) => w.seq)).toEqual([1, 2, 3]);
  });
});

describe('queueAdmission', () => {
  it('a tenant alone may use the whole queue (borrowing what nobody asks for)', () => {
    expect(queueAdmission(load(2, 1, { a: { inFlight: 2 } }), 'a', even)).toEqual({ admit: true });
    expect(queueAdmission(load(2, 1, { a: { inFlight: 2, waiting: 1 } }), 'a', even)).toEqual({
      admit: false,
      reason: 'full',
    });
  });

  it('a tenant below its share is admitted while places are free', () => {
    const l = load(5, 4, { a: { inFlight: 5, waiting: 3 } });
    expect(queueAdmission(l, 'b', even)).toEqual({ admit: true });
  });

  it('a tenant at or above its share cannot take the last places another contender below its share may need', () => {
    // a holds 4 slots and waits for 2 of 8 places (share 4); b holds 1, below its share.
    const l = load(5, 3, { a: { inFlight: 4, waiting: 2 }, b: { inFlight: 1 } });
    expect(queueAdmission(l, 'a', even)).toEqual({ admit: false, reason: 'share' });
    // With more places free, a may still borrow.
    const roomy = load(5, 6, { a: { inFlight: 4, waiting: 2 }, b: { inFlight: 1 } });
    expect(queueAdmission(roomy, 'a', even)).toEqual({ admit: true });
  });

  it('a full queue: a tenant below its share displaces the newest waiter of the tenant furthest above its share', () => {
    const l = load(5, 3, { a: { inFlight: 5, waiting: 2 }, c: { waiting: 1 } });
    expect(queueAdmission(l, 'b', even)).toEqual({ admit: true, displace: 'a' });
    // A tenant at its share does not displace anyone.
    const fair = load(2, 2, { a: { inFlight: 1, waiting: 1 }, b: { inFlight: 1, waiting: 1 } });
    expect(queueAdmission(fair, 'b', even)).toEqual({ admit: false, reason: 'full' });
  });
});
