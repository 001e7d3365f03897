import { randomUUID } from 'node:crypto';
import type { Credential } from './ports.js';
import type { Logger } from './logger.js';
import { GatewayError } from '../errors/gateway-error.js';
import {
  CredentialHealth,
  DEFAULT_HEALTH_POLICY,
  type CredentialOutcome,
  type CredentialStatus,
  type HealthPolicy,
  type OutcomePhase,
} from './credential-health.js';
import { SlotQueue, type SlotQueuePolicy } from './credential-slots.js';
import { queueAdmission, servingOrder, type SlotLoad, type WeightOf } from './fair-share.js';
import type { SharedSlots } from './shared-slots.js';
import { SharedWaits } from './shared-waits.js';

/**
 * How a provider's credentials are chosen for a new task:
 * - `first`: always the first one (an upstream load balancer spreads the work, as some
 *   enterprise balancers do when given the first server's key);
 * - `fewest-in-flight`: the credential with the fewest unfinished tasks (ties: list order).
 * Later calls for a task always use the credential that created it (looked up by id).
 *
 * Either way, a credential out of rotation (circuit open, see credential-health.ts) or at its
 * in-flight cap is skipped: `first` then means the first usable one in list order. A
 * credential whose cool-down is over (half-open) is preferred, so its one trial comes soon.
 *
 * Slots and queue places are shared fairly between tenants (see fair-share.ts): a freed slot
 * goes to the waiting tenant holding the fewest per weight, and a tenant above its share
 * cannot keep the queue's last places from the others.
 *
 * With `shared` slots (cluster mode) the cap is checked and the slot taken atomically over all
 * instances (shared-slots.ts); this pool's counts only pick which credential to ask first. The
 * wait queue stays per instance (waiters look for slots freed elsewhere, see shared-waits.ts);
 * its fair shares weigh what each tenant holds over all instances, read when a create has to
 * wait and before each look.
 */
export type CredentialStrategy = 'first' | 'fewest-in-flight';

export interface CredentialPoolOptions {
  /** In-flight cap of a credential that sets no `maxInFlight`; unlimited when absent. */
  defaultMaxInFlight?: number;
  /** Creates waiting for a free slot; absent: none waits (refused at once when all are full). */
  queue?: SlotQueuePolicy;
  health?: Partial<HealthPolicy>;
  /** Tenants' weights for their fair shares of slots and queue places (default 1 each). */
  weightOf?: WeightOf;
  logger?: Logger;
  now?: () => number;
  /** Cluster mode: slots counted over every instance sharing the store. */
  shared?: SharedSlots;
}

/** The tenant of slots taken without one (tests, tools): shares with itself only. */
const NO_TENANT = '';

export class CredentialPool {
  private readonly inFlight = new Map<string, number>();
  /**
   * Slots held per tenant (all credentials together). Slots restored by `seed` after a restart
   * belong to no tenant: they count against the caps, not against anyone's share. Cluster
   * mode: the tenants' unfinished tasks over all instances, as last read.
   */
  private readonly inFlightByTenant = new Map<string, number>();
  private readonly weightOf: WeightOf;
  private readonly byIdMap: ReadonlyMap<string, Credential>;
  private readonly health: CredentialHealth;
  private readonly queue: SlotQueue<Credential>;
  private readonly now: () => number;
  private wakeTimer: NodeJS.Timeout | undefined;
  private readonly sharedWaits: SharedWaits | undefined;

  constructor(
    readonly provider: string,
    private readonly credentials: readonly Credential[],
    private readonly strategy: CredentialStrategy,
    private readonly options: CredentialPoolOptions = {},
  ) {
    this.byIdMap = new Map(credentials.map((c) => [c.id, c]));
    this.now = options.now ?? Date.now;
    this.health = new CredentialHealth(
      provider,
      { ...DEFAULT_HEALTH_POLICY, ...options.health },
      options.logger,
      this.now,
      () => this.drain(),
    );
    this.queue = new SlotQueue(options.queue ?? { max: 0, waitMs: 0 });
    const weightOf = options.weightOf ?? (() => 1);
    this.weightOf = (tenant) => Math.max(1e-6, weightOf(tenant));
    if (options.shared) {
      this.sharedWaits = new SharedWaits({
        pass: () => this.servedShared(),
        refresh: () => this.readShared(options.shared!),
        waiting: () => this.queue.length > 0,
      });
    }
  }

  /** Restores in-flight counts from the store after a restart. */
  seed(counts: ReadonlyMap<string, number>): void {
    for (const [id, n] of counts) if (this.byIdMap.has(id)) this.inFlight.set(id, n);
  }

  /** The in-flight cap of a credential (Infinity: none). */
  capOf(id: string): number {
    const c = this.byIdMap.get(id);
    return c?.maxInFlight ?? this.options.defaultMaxInFlight ?? Infinity;
  }

  /**
   * The credential a create would get now (usable, below its cap), without taking a slot;
   * undefined when none is. Creates use `reserve`, which takes the slot atomically.
   */
  pick(exclude: ReadonlySet<string> = new Set()): Credential | undefined {
    let best: Credential | undefined;
    let bestScore = Infinity;
    for (const c of this.credentials) {
      if (exclude.has(c.id) || !this.health.usable(c.id)) continue;
      const n = this.inFlightOf(c.id);
      if (n >= this.capOf(c.id)) continue;
      // Half-open first (its trial), then the strategy's order.
      const trial = this.health.state(c.id) === 'half_open' ? -1e9 : 0;
      const score = trial + (this.strategy === 'first' ? 0 : n);
      if (score < bestScore) {
        best = c;
        bestScore = score;
      }
    }
    return best;
  }

  /**
   * Takes an in-flight slot for a new create of `tenant` and returns its credential. Every
   * credential at its cap: waits in the provider's queue for a task to finish (served by fair
   * share, see fair-share.ts); beyond the queue bound, the tenant's share of it, or the wait
   * time → 429 `upstream_rate_limited`. Every credential out of rotation → 503
   * `no_credential_available`. Both are refused before any upstream call (`requestSent:
   * false`). `exclude`: credentials already tried by this create.
   */
  async reserve(
    tenant: string = NO_TENANT,
    exclude: ReadonlySet<string> = new Set(),
    /** Who holds the slot (the task id): names it in shared slots, and on `release`. */
    holder: string = randomUUID(),
  ): Promise<Credential> {
    // Waiting creates come first; whatever they cannot use is free for this one.
    this.drain();
    if (!this.options.shared) {
      const credential = this.take(tenant, exclude);
      if (credential) return credential;
    } else if (this.queue.length === 0) {
      const credential = await this.takeShared(tenant, exclude, holder);
      if (credential) return credential;
      // Queue places are shared out on what every tenant holds over all instances.
      await this.readShared(this.options.shared).catch(() => undefined);
    }
    const refusal = this.refusal(exclude);
    if (refusal) throw refusal;
    const admission = queueAdmission(this.load(), tenant, this.weightOf);
    if (!admission.admit) {
      throw this.queueFull(
        admission.reason === 'full'
          ? 'the wait queue is full'
          : 'the places left in the wait queue are kept for tenants below their fair share',
      );
    }
    if (admission.displace) {
      const why = 'its place in the wait queue went to a tenant below its fair share';
      this.queue.displaceNewest(admission.displace, this.queueFull(why));
    }
    const waiting = this.queue.wait(
      tenant,
      exclude,
      () => this.queueFull(`no slot freed up within ${this.queue.policy.waitMs} ms`),
      holder,
    );
    this.sharedWaits?.schedule();
    return waiting;
  }

  /**
   * Cluster mode, nobody waiting here: the best capped credential's slot taken in this pool
   * only, for an insert that takes it over every instance (TaskStore.insertWithinCap; refused:
   * `release` it, no holder). undefined: `reserve` instead.
   */
  takeForInsert(tenant: string = NO_TENANT): { credential: Credential; cap: number } | undefined {
    if (!this.options.shared || this.queue.length > 0) return undefined;
    const c = this.pick();
    const cap = c ? this.capOf(c.id) : Infinity;
    if (!c || !Number.isFinite(cap)) return undefined;
    this.health.taken(c.id);
    this.acquire(c.id, tenant);
    return { credential: c, cap };
  }

  /** The counts fair shares are decided on: capacity in rotation, holders and waiters. */
  private load(): SlotLoad {
    const tenants = new Map<string, { inFlight: number; waiting: number }>();
    for (const [tenant, n] of this.inFlightByTenant)
      tenants.set(tenant, { inFlight: n, waiting: 0 });
    for (const [tenant, n] of this.queue.waitingByTenant()) {
      tenants.set(tenant, { inFlight: tenants.get(tenant)?.inFlight ?? 0, waiting: n });
    }
    return { capacity: this.capacityInRotation(), queueMax: this.queue.policy.max, tenants };
  }

  /** Slots of the credentials that can take creates (out-of-rotation ones take nothing). */
  private capacityInRotation(): number {
    return this.credentials
      .filter((c) => this.health.servable(c.id))
      .reduce((sum, c) => sum + this.capOf(c.id), 0);
  }

  /** Takes a slot on the best credential for a create, or undefined when none is free. */
  private take(tenant: string, exclude: ReadonlySet<string>): Credential | undefined {
    const c = this.pick(exclude);
    if (!c) return undefined;
    this.health.taken(c.id);
    this.acquire(c.id, tenant);
    return c;
  }

  /**
   * Cluster mode: takes a slot over all instances on the best credential that has one free,
   * trying the next when another instance took the last one first.
   */
  private async takeShared(
    tenant: string,
    exclude: ReadonlySet<string>,
    holder: string,
  ): Promise<Credential | undefined> {
    const shared = this.options.shared!;
    const refused = new Set(exclude);
    for (let c = this.pick(refused); c; c = this.pick(refused)) {
      refused.add(c.id);
      const cap = this.capOf(c.id);
      if (Number.isFinite(cap)) {
        const { taken, held } = await shared.take(this.provider, c.id, holder, cap);
        // What the cluster holds now: this pool's guess for its next choices.
        this.inFlight.set(c.id, taken ? held - 1 : held);
        if (!taken) continue;
        // Another create here may have taken its half-open trial meanwhile.
        if (!this.health.usable(c.id)) {
          this.releaseShared(c.id, holder);
          continue;
        }
      }
      this.health.taken(c.id);
      this.acquire(c.id, tenant);
      return c;
    }
    return undefined;
  }

  /** Cluster mode: what every credential and tenant holds over all instances. */
  private async readShared(shared: SharedSlots): Promise<void> {
    const ids = this.credentials.map((c) => c.id);
    const [byCredential, byTenant] = await Promise.all([
      shared.held(this.provider, ids),
      shared.heldByTenant(this.provider),
    ]);
    this.seed(byCredential);
    this.inFlightByTenant.clear();
    for (const [tenant, n] of byTenant) this.inFlightByTenant.set(tenant, n);
  }

  /** Gives a shared slot's reservation back (should that fail, its lease ends it). */
  private releaseShared(id: string, holder: string): void {
    this.options.shared?.release(this.provider, id, holder).catch((err: unknown) => {
      this.options.logger?.warn({ err, credentialId: id }, 'releasing a shared slot failed');
    });
  }

  /** 503 when no credential (outside `exclude`) can serve creates until a cool-down ends. */
  private refusal(exclude: ReadonlySet<string>): GatewayError | undefined {
    return this.health.refusal(this.credentials.flatMap((c) => (exclude.has(c.id) ? [] : [c.id])));
  }

  private queueFull(why: string): GatewayError {
    const total = this.capacityInRotation();
    return new GatewayError(
      'upstream_rate_limited',
      `Every ${this.provider} credential has its maximum of jobs in flight (${total} in all) and ${why}; nothing was sent to ${this.provider}, retry later`,
      {
        requestSent: false,
        retryAfterMs: Math.min(30_000, Math.max(1000, this.queue.policy.waitMs)),
      },
    );
  }

  /**
   * Serves waiting creates from free slots (the tenant holding the fewest slots per weight
   * first); refuses those that nothing can serve any more.
   */
  private drain(): void {
    if (this.queue.length === 0) return;
    if (this.sharedWaits) {
      this.sharedWaits.serve();
      return;
    }
    this.queue.serve(
      (tenant, exclude) => this.take(tenant, exclude),
      (waiters) => servingOrder(waiters, this.load(), this.weightOf),
    );
    this.queue.refuse((exclude) => this.refusal(exclude));
    this.scheduleWake();
  }

  /** `drain`'s pass over shared slots (see shared-waits.ts). */
  private async servedShared(): Promise<void> {
    await this.queue.serveAsync(
      (w) =>
        this.takeShared(w.tenant, w.exclude, w.holder!).catch((err: unknown) => {
          this.options.logger?.debug({ err }, 'taking a shared slot for a waiting create failed');
          return undefined;
        }),
      (waiters) => servingOrder(waiters, this.load(), this.weightOf),
      (c, w) => this.release(c.id, w.tenant, w.holder),
    );
    this.queue.refuse((exclude) => this.refusal(exclude));
    this.scheduleWake();
  }

  /** Waiters and an open credential: look again when its cool-down ends (it may take one). */
  private scheduleWake(): void {
    if (this.wakeTimer || this.queue.length === 0) return;
    const next = Math.min(...this.credentials.map((c) => this.health.openUntil(c.id) || Infinity));
    if (!Number.isFinite(next)) return;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.drain();
      },
      Math.max(1, next - this.now()),
    );
    this.wakeTimer.unref?.();
  }

  /**
   * What a call with the credential showed (see credential-health.ts): transient failures
   * count towards taking it out of rotation, an auth or credits refusal does so at once, a
   * success resets the count (and closes the circuit after a half-open trial create).
   */
  reportOutcome(
    credentialId: string,
    outcome: CredentialOutcome,
    phase: OutcomePhase = 'create',
  ): void {
    if (this.byIdMap.has(credentialId)) this.health.report(credentialId, outcome, phase);
  }

  byId(id: string): Credential | undefined {
    return this.byIdMap.get(id);
  }

  acquire(id: string, tenant: string = NO_TENANT): void {
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
    this.inFlightByTenant.set(tenant, (this.inFlightByTenant.get(tenant) ?? 0) + 1);
  }

  /**
   * A task of `tenant` on credential `id` finished, or its create gave the slot back. With
   * `holder` (the create's own give-back), a shared slot reserved for it is released too; a
   * finished task's shared slot is freed by the store as it records the finish.
   */
  release(id: string, tenant: string = NO_TENANT, holder?: string): void {
    if (holder !== undefined) this.releaseShared(id, holder);
    const n = this.inFlight.get(id) ?? 0;
    this.inFlight.set(id, Math.max(0, n - 1));
    // A slot restored by `seed` belongs to no tenant: nothing to take off a share then.
    const held = this.inFlightByTenant.get(tenant) ?? 0;
    if (held > 1) this.inFlightByTenant.set(tenant, held - 1);
    else this.inFlightByTenant.delete(tenant);
    this.drain();
  }

  inFlightOf(id: string): number {
    return this.inFlight.get(id) ?? 0;
  }

  /** Creates waiting for a slot now, and the queue's bounds. */
  queueStatus(): { waiting: number; max: number; wait_ms: number } {
    return {
      waiting: this.queue.length,
      max: this.queue.policy.max,
      wait_ms: this.queue.policy.waitMs,
    };
  }

  /** Every credential's state, in configuration order; ids only, never a secret. */
  status(): CredentialStatus[] {
    return this.credentials.map((c) => {
      const h = this.health.view(c.id);
      const cap = this.capOf(c.id);
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      return {
        id: c.id,
        state: h.state,
        in_flight: this.inFlightOf(c.id),
        cap: Number.isFinite(cap) ? cap : null,
        consecutive_failures: h.consecutiveFailures,
        total_failures: h.totalFailures,
        last_error_code: h.lastErrorCode,
        last_error_at: iso(h.lastErrorAt),
        open_until: iso(h.openUntil),
      };
    });
  }

  /** Stops the wake-up timer (app close). Waiting creates time out on their own. */
  close(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.sharedWaits?.close();
    this.wakeTimer = undefined;
  }
}
