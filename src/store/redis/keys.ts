import type { TaskStatus } from '../../contracts/common.js';
import type { IdempotencyScope } from '../../domain/task-store.js';

/**
 * The key layout of the Redis store. Every key lives under `<prefix>{gw}:` so that all of
 * them hash to one slot: the Lua scripts may touch any of them atomically (standalone Redis,
 * Sentinel, or a cluster). Variable parts come last, or are URI-encoded, so no two names
 * collide whatever characters a tenant id or an Idempotency-Key holds.
 *
 * The Lua scripts (scripts.ts) build the task-index keys themselves from the same names:
 * keep both in step.
 */
export class RedisKeys {
  /** `<prefix>{gw}:`: what every key starts with (the Lua scripts get it as ARGV[1]). */
  readonly base: string;

  constructor(prefix: string) {
    if (/[{}]/.test(prefix)) throw new Error('REDIS_KEY_PREFIX: must not contain { or }');
    this.base = `${prefix}{gw}:`;
  }

  /** HASH: hot fields (v, poll, hook, tenant, status, ...) and the record as JSON (`data`). */
  task(id: string): string {
    return `${this.base}task:${id}`;
  }

  /** ZSET task id -> next poll time (ms). */
  get duePolls(): string {
    return `${this.base}due:poll`;
  }

  /** ZSET task id -> next webhook attempt time (ms). */
  get dueWebhooks(): string {
    return `${this.base}due:webhook`;
  }

  /** ZSET (all scores 0, ordered by id = creation time) of a tenant's undeleted tasks. */
  list(tenant: string, status?: TaskStatus): string {
    return `${this.base}tasks:${status ?? 'all'}:${tenant}`;
  }

  /** ZSET (scores 0, by id) of the tasks of `provider` whose upstream job is `upstreamId`. */
  upstream(provider: string, upstreamId: string): string {
    return `${this.base}upstream:${provider}:${upstreamId}`;
  }

  /** HASH credential id -> number of queued or running tasks of `provider`. */
  active(provider: string): string {
    return `${this.base}active:${provider}`;
  }

  /** HASH tenant id -> number of queued or running tasks of `provider` (fair shares). */
  activeTenants(provider: string): string {
    return `${this.base}active-tenants:${provider}`;
  }

  /**
   * ZSET task id -> lease end (ms): a credential's slots reserved by creates whose task is not
   * stored yet (redis/slots.ts). The credential id is not encoded: the task scripts build the
   * same name, and provider ids hold no colon.
   */
  reservedSlots(provider: string, credentialId: string): string {
    return `${this.base}reserved:${provider}:${credentialId}`;
  }

  /** HASH `<status>:<provider>` -> number of tasks (deleted ones included). */
  get counts(): string {
    return `${this.base}counts`;
  }

  /** STRING: webhook deliveries still pending, over all tasks. */
  get pendingWebhooks(): string {
    return `${this.base}webhooks:pending`;
  }

  /** Pub/sub channel: `<instance id> <task id>` per visible task change (redis/change-feed.ts). */
  get changes(): string {
    return `${this.base}changes`;
  }

  /** STRING set once (NX): when it is gone, Redis lost its data (redis/server-checks.ts). */
  get epoch(): string {
    return `${this.base}epoch`;
  }

  /** STRING: GCRA arrival time of a credential's poll budget (redis/poll-budget.ts). */
  pollBudget(provider: string, credentialId: string): string {
    return `${this.base}budget:poll:${provider}:${encodeURIComponent(credentialId)}`;
  }

  /** Pub/sub channel of circuit-breaker transitions (JSON; redis/circuits.ts). */
  get circuits(): string {
    return `${this.base}circuits`;
  }

  /** STRING set NX PX by the instance that runs a credential's half-open trial. */
  circuitTrial(provider: string, credentialId: string): string {
    return `${this.base}circuit-trial:${provider}:${encodeURIComponent(credentialId)}`;
  }

  /** HASH of one published media entry (ct, bytes, created, expires). */
  media(id: string): string {
    return `${this.base}media:${id}`;
  }

  /** ZSET media id -> expiresAt, for purgeMedia(now). */
  get mediaExpiry(): string {
    return `${this.base}media-expiry`;
  }

  /** HASH of one Idempotency-Key (owner, state, task, locked, expires, data). */
  idempotency(scope: IdempotencyScope): string {
    return `${this.base}idem:${idempotencyMember(scope)}`;
  }

  /** ZSET idempotency member -> expiresAt, for purgeIdempotencyKeys(now). */
  get idempotencyExpiry(): string {
    return `${this.base}idem-expiry`;
  }
}

/** The scope as one unambiguous string (each part URI-encoded, so `:` only separates). */
export const idempotencyMember = (s: IdempotencyScope) =>
  [s.tenant, s.surface, s.key].map(encodeURIComponent).join(':');
