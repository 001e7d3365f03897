import { describe, expect, it } from 'vitest';
import type { Credential } from '../../src/config/config.js';
import { CredentialPool } from '../../src/domain/credential-pool.js';
import type { SharedSlots } from '../../src/domain/shared-slots.js';
import { StoreUnavailableError } from '../../src/domain/task-store.js';
import { isGatewayError } from '../../src/errors/gateway-error.js';
import { until } from '../helpers/until.js';

// The pool's side of cluster mode, on a small in-process implementation of the shared-slots
// port (the Redis one is tested against real Redis in test/store and test/cluster).

/** Slots per credential, shared by every pool given this object (the "instances"). */
class ProcessSlots implements SharedSlots {
  readonly holders = new Map<string, Set<string>>();
  down = false;
  heldCalls = 0;
  /** Unfinished tasks per tenant over "all instances", as the store would count them. */
  tenants = new Map<string, number>();
  private set(credentialId: string): Set<string> {
    let s = this.holders.get(credentialId);
    if (!s) this.holders.set(credentialId, (s = new Set()));
    return s;
  }
  async take(_p: string, credentialId: string, holder: string, cap: number) {
    if (this.down) throw new StoreUnavailableError('down');
    const s = this.set(credentialId);
    if (s.has(holder)) return { taken: true, held: s.size };
    if (s.size >= cap) return { taken: false, held: s.size };
    s.add(holder);
    return { taken: true, held: s.size };
  }
  async release(_p: string, credentialId: string, holder: string) {
    this.set(credentialId).delete(holder);
  }
  async held(_p: string, ids: readonly string[]) {
    this.heldCalls++;
    if (this.down) throw new StoreUnavailableError('down');
    return new Map(ids.map((id) => [id, this.set(id).size]));
  }
  async heldByTenant() {
    return new Map(this.tenants);
  }
  /** A task finished: the store frees its slot itself (no pool is told). */
  finish(credentialId: string, holder: string): void {
    this.set(credentialId).delete(holder);
  }
}

const creds: Credential[] = [
  { id: 'c1', secret: 's1', maxInFlight: 1 },
  { id: 'c2', secret: 's2', maxInFlight: 1 },
];

const instance = (shared: SharedSlots, credentials = creds) =>
  new CredentialPool('prov', credentials, 'first', {
    shared,
    queue: { max: 10, waitMs: 30_000 },
  });

describe('CredentialPool over shared slots (cluster mode)', () => {
  it('instances never take more than the caps together; a waiter gets a slot freed elsewhere', async () => {
    const slots = new ProcessSlots();
    const [a, b] = [instance(slots), instance(slots)];
    try {
      // Both instances' counts say "free": the shared take decides.
      expect((await a.reserve('t', undefined, 'task1')).id).toBe('c1');
      expect((await b.reserve('t', undefined, 'task2')).id).toBe('c2');
      let got: string | undefined;
      const waiting = b.reserve('t', undefined, 'task3').then((c) => (got = c.id));
      await until(() => b.queueStatus().waiting === 1, 'the create to wait');
      // Instance A's task finishes: B hears nothing, and finds the slot on its next look.
      slots.finish('c1', 'task1');
      await until(() => got !== undefined, 'the waiter to be served');
      await waiting;
      expect(got).toBe('c1');
      expect([...slots.holders.get('c1')!]).toEqual(['task3']);
    } finally {
      a.close();
      b.close();
    }
  });

  it('a freed slot goes to the waiting tenant holding the fewest over all instances', async () => {
    const slots = new ProcessSlots();
    // Another instance runs two tasks of tenant "big", one on each credential.
    slots.holders.set('c1', new Set(['o1']));
    slots.holders.set('c2', new Set(['o2']));
    slots.tenants.set('big', 2);
    const a = instance(slots);
    try {
      const served: string[] = [];
      const big = a.reserve('big', undefined, 'b1').then(() => served.push('big'));
      big.catch(() => undefined);
      await until(() => a.queueStatus().waiting === 1, 'big to wait');
      const small = a.reserve('small', undefined, 's1').then(() => served.push('small'));
      await until(() => a.queueStatus().waiting === 2, 'small to wait');
      // One of big's tasks finishes elsewhere: big still holds one, small none.
      slots.finish('c1', 'o1');
      slots.tenants.set('big', 1);
      await small;
      expect(served).toEqual(['small']);
      expect(a.queueStatus().waiting).toBe(1);
    } finally {
      a.close();
    }
  });

  it('a create that gives its slot back releases the reservation; a finished task is left to the store', async () => {
    const slots = new ProcessSlots();
    const a = instance(slots, [creds[0]!]);
    try {
      await a.reserve('t', undefined, 'task1');
      a.release('c1', 't', 'task1');
      await until(() => slots.holders.get('c1')!.size === 0, 'the reservation to go');
      await a.reserve('t', undefined, 'task2');
      // The writer's release of a finished task names no holder: the store already freed it.
      a.release('c1', 't');
      expect([...slots.holders.get('c1')!]).toEqual(['task2']);
    } finally {
      a.close();
    }
  });

  it('a store that cannot answer fails the create (no slot taken), and waiters keep waiting', async () => {
    const slots = new ProcessSlots();
    const a = instance(slots, [creds[0]!]);
    try {
      await a.reserve('t', undefined, 'task1');
      let served = false;
      const waiting = a.reserve('t', undefined, 'task2').then(() => (served = true));
      slots.down = true;
      const other = instance(slots, [creds[0]!]);
      const failed = await other.reserve('t', undefined, 'task3').catch((err: unknown) => err);
      other.close();
      expect(failed).toBeInstanceOf(StoreUnavailableError);
      expect(isGatewayError(failed)).toBe(false);
      // The waiter's looks fail meanwhile; it keeps its place.
      const looks = slots.heldCalls;
      await until(() => slots.heldCalls >= looks + 2, 'two failed looks');
      expect([served, a.queueStatus().waiting]).toEqual([false, 1]);
      // Back up, and the slot frees: the waiter is served.
      slots.down = false;
      slots.finish('c1', 'task1');
      await until(() => served, 'the waiter to be served');
      await waiting;
    } finally {
      a.close();
    }
  });
});
