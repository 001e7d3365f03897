/** The validated configuration, built once at start-up (config/load.ts) and passed in. */

import type { Credential } from '../domain/ports.js';

export type { Credential };

interface ProviderSettingsBase {
  baseUrl: string;
  credentials: Credential[];
  /** True when served by the built-in emulator. */
  emulated: boolean;
  /** Default poll budget of this provider's credentials (file: `polls_per_second`). */
  pollsPerSecond?: number;
}

export interface ModelslabSettings extends ProviderSettingsBase {
  /** true: every call carries the first key; false: genway spreads tasks over the keys. */
  loadBalancer: boolean;
  videoPath: string;
}
export interface ReplicateSettings extends ProviderSettingsBase {
  models: string[];
  /**
   * The account's `whsec_` webhook signing secret(s) (REPLICATE_WEBHOOK_SECRET, from
   * `GET /webhooks/default/secret`; one per account when tokens span accounts). Unset: genway
   * asks Replicate for no webhooks and polls only.
   */
  webhookSecrets?: string[];
}
export interface PixverseSettings extends ProviderSettingsBase {
  /** `webhook_id` created in PixVerse's console (PIXVERSE_WEBHOOK_ID), sent on creates. */
  webhookId?: string;
  /** That webhook's signing secret (PIXVERSE_WEBHOOK_SECRET). */
  webhookSecret?: string;
}
export interface HaiperSettings extends ProviderSettingsBase {
  endpointPath: string;
}

export interface ProvidersConfig {
  modelslab?: ModelslabSettings;
  replicate?: ReplicateSettings;
  pixverse?: PixverseSettings;
  haiper?: HaiperSettings;
}

/** Requests per window a tenant may send (all gateway surfaces together). `max` 0: unlimited. */
export interface RateLimit {
  max: number;
  windowMs: number;
}

export interface TenantConfig {
  id: string;
  keys: string[];
  /** This tenant's own limit (file: `tenants[].rate_limit`); else `Config.rateLimit`. */
  rateLimit?: RateLimit;
}

/** In-flight caps, the wait queue and the circuit breaker of upstream credentials. */
export interface CredentialPolicy {
  /** Creates that may wait per provider while every credential is at its cap (QUEUE_MAX). */
  queueMax: number;
  /** How long such a create waits for a slot (QUEUE_WAIT_MS). */
  queueWaitMs: number;
  /** Consecutive transient failures that take a credential out of rotation. */
  failureThreshold: number;
  /** How long it stays out before one trial request (CREDENTIAL_COOLDOWN_MS). */
  coolDownMs: number;
}

export interface Config {
  port: number;
  host: string;
  publicUrl: string | null;
  storeUrl: string;
  /** Prefix of every Redis key when STORE_URL is redis:// (REDIS_KEY_PREFIX). */
  redisKeyPrefix: string;
  logLevel: string;
  tenants: TenantConfig[];
  /** No gateway key configured: the documented development key is accepted (emulator mode only). */
  devKey: boolean;
  webhookSecret: string | null;
  /** Bearer token `GET /metrics` requires (METRICS_TOKEN); absent: /metrics is open. */
  metricsToken?: string;
  /** Bearer token of `GET /admin/credentials` (ADMIN_TOKEN); absent: that route answers 404. */
  adminToken?: string;
  /** Default per-tenant request limit (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW); absent: none. */
  rateLimit?: RateLimit;
  /** Credential caps, queue and health (defaults in domain/credential-*.ts when absent). */
  credentialPolicy?: CredentialPolicy;
  outboundAllowlist: string[];
  aliases: Record<string, string>;
  /**
   * Model (public id or alias) → models a create may move to, in order, when its own provider
   * provably got nothing (connect refused, DNS, no usable credential). GATEWAY_CONFIG
   * `fallbacks`; none when unset.
   */
  fallbacks?: Record<string, string[]>;
  providers: ProvidersConfig;
  /** No provider credentials at all: serve against the built-in emulators. */
  useEmulators: boolean;
  polling: {
    intervalMs: number;
    maxIntervalMs: number;
    unreachableDeadlineMs: number;
    /** POLL_INTERVAL_MS was set: it replaces the adapters' own per-operation intervals. */
    intervalOverridesAdapters?: boolean;
    /** Polls per second per upstream credential unless configured otherwise (10). */
    budgetPerSecond?: number;
  };
  limits: {
    bodyLimitBytes: number;
    maxWaitSeconds: number;
    /**
     * How long `POST /openai/v1/images/generations` (synchronous in OpenAI's API) holds the
     * answer for the task to finish (OPENAI_IMAGES_WAIT_SECONDS); 120 when unset.
     */
    openaiImagesWaitSeconds?: number;
    /** Interval of `: ping` comments on `GET /v1/tasks/{id}/events` (SSE_HEARTBEAT_MS); 15 s. */
    sseHeartbeatMs?: number;
  };
  /**
   * Idempotency-Keys on creates: how long a key is remembered (IDEMPOTENCY_TTL_SECONDS, 24 h)
   * and how long a request waits for one in progress before a 409 (IDEMPOTENCY_WAIT_MS, 10 s).
   */
  idempotency?: { ttlMs: number; waitMs: number };
  /** Headers and body timeout of upstream calls (UPSTREAM_TIMEOUT_MS); 30 s when unset. */
  upstreamTimeoutMs?: number;
}

export const DEV_GATEWAY_KEY = 'genway-dev-key';
