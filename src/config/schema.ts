import { createHash } from 'node:crypto';
import { z } from 'zod';
import type {
  ProviderModule,
  ProviderSettings,
  ReportProblem,
} from '../providers/provider-module.js';
import { PROVIDERS, type ProvidersConfig } from '../providers/registry.js';
import { OperationSchema } from '../contracts/common.js';
import type { TenantBudget } from '../domain/admin-store.js';
import type { PriceEntry, PriceUnit } from '../domain/pricing.js';
import { DEV_GATEWAY_KEY } from './config.js';
import { duration, httpUrl, intString, list, longDuration } from './values.js';
import { deriveTenantWebhookSecret } from './webhook-secrets.js';

/** Requests per window: `max` 0 turns the limit off. */
const rateLimitSchema = z.strictObject({
  max: z.number().int().min(0).max(1_000_000),
  window: duration.optional(),
});

/** A tenant's spending limit in USD per period (file `tenants[].budget`, admin API). */
export const budgetSchema = z.strictObject({
  limit_usd: z.number().min(0).max(1_000_000_000),
  period: z.enum(['day', 'month', 'total']),
});

const PRICE_UNITS = ['per_image', 'per_second', 'per_task', 'per_predict_second'] as const;
const usdAmount = z.number().min(0).max(1_000_000);

/** One `prices` entry: a model (exact id or `provider/*`), maybe an operation, one unit. */
const priceSchema = z
  .strictObject({
    model: z.string().regex(/^[^\s*]+(\/\*)?$/, 'expected an exact model id or provider/*'),
    operation: OperationSchema.optional(),
    per_image: usdAmount.optional(),
    per_second: usdAmount.optional(),
    per_task: usdAmount.optional(),
    per_predict_second: usdAmount.optional(),
    estimate_seconds: z.number().positive().max(86_400).optional(),
  })
  .refine((p) => PRICE_UNITS.filter((u) => p[u] !== undefined).length === 1, {
    message: `give exactly one of ${PRICE_UNITS.join(', ')}`,
  });

function priceEntryOf(p: z.output<typeof priceSchema>): PriceEntry {
  const unit = PRICE_UNITS.find((u) => p[u] !== undefined) as PriceUnit;
  return {
    model: p.model,
    ...(p.operation ? { operation: p.operation } : {}),
    unit,
    usd: p[unit] as number,
    ...(p.estimate_seconds !== undefined ? { estimateSeconds: p.estimate_seconds } : {}),
  };
}

/**
 * Environment variables of the contract (architecture §3), plus a few operational knobs. Every
 * default of the configuration is here; each provider's own variables are in its module.
 */
/** A Standard Webhooks signing secret: `whsec_` and base64. */
const whsecSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/=]{16,}$/, 'expected whsec_ followed by a base64 secret');

const EnvSchema = z.object({
  PORT: intString(0, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GATEWAY_API_KEYS: z.string().optional(),
  GATEWAY_CONFIG: z.string().optional(),
  STORE_URL: z
    .string()
    .regex(
      /^(sqlite:.+|memory:|rediss?:\/\/.+)$/,
      'expected sqlite:<path>, memory:, redis://host:port or rediss://host:port',
    )
    .default('sqlite:./data/genway.db'),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[^{}\s]*$/, 'must not contain braces or whitespace')
    .default('genway:'),
  // STORE_URL=memory: finished tasks kept (the oldest finished are dropped first), and how long.
  MEMORY_STORE_MAX_FINISHED_TASKS: intString(1, 10_000_000).default(10_000),
  MEMORY_STORE_RETENTION_SECONDS: intString(1, 31_536_000).default(86_400),
  /**
   * Cluster mode: how long a poll or webhook claim hides a task from other instances; a
   * killed instance's claims are taken over after it. Unset: 60 s for polls, 30 s for webhooks.
   */
  CLAIM_LEASE_MS: intString(200, 3_600_000).optional(),
  PUBLIC_URL: httpUrl.optional(),
  WEBHOOK_SECRET: whsecSecret.optional(),
  OUTBOUND_ALLOWLIST: z.string().optional(),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // Set, it replaces the adapters' own per-operation intervals.
  POLL_INTERVAL_MS: intString(10, 600_000)
    .optional()
    .transform((ms) => ({ ms: ms ?? 2000, set: ms !== undefined })),
  POLL_MAX_INTERVAL_MS: intString(10, 3_600_000).default(30_000),
  UPSTREAM_UNREACHABLE_DEADLINE_MS: intString(1000, 86_400_000).default(600_000),
  POLL_BUDGET_PER_SECOND: z.coerce.number().positive().max(100_000).default(10),
  SSE_HEARTBEAT_MS: intString(50, 300_000).default(15_000),
  BODY_LIMIT_BYTES: intString(1024, 100 * 1024 * 1024).default(1024 * 1024),
  MAX_WAIT_SECONDS: intString(1, 60).default(60),
  REQUEST_TIMEOUT_MS: intString(1000, 3_600_000).default(120_000),
  CONNECTION_TIMEOUT_MS: intString(1000, 86_400_000).default(660_000),
  MAX_HELD_REQUESTS: intString(0, 1_000_000).default(5000),
  MAX_HELD_REQUESTS_PER_TENANT: intString(0, 1_000_000).default(500),
  METRICS_PORT: intString(0, 65535).optional(),
  METRICS_CACHE_MS: intString(0, 600_000).default(15_000),
  OPENAI_IMAGES_WAIT_SECONDS: intString(1, 600).default(120),
  IDEMPOTENCY_TTL_SECONDS: intString(1, 30 * 86_400).default(86_400),
  IDEMPOTENCY_WAIT_MS: intString(0, 60_000).default(10_000),
  UPSTREAM_TIMEOUT_MS: intString(100, 600_000).default(30_000),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  RATE_LIMIT_MAX: intString(0, 1_000_000).default(600),
  RATE_LIMIT_WINDOW: duration.default(60_000),
  QUEUE_MAX: intString(0, 100_000).default(50),
  QUEUE_WAIT_MS: intString(0, 600_000).default(10_000),
  CREDENTIAL_FAILURE_THRESHOLD: intString(1, 1000).default(5),
  CREDENTIAL_COOLDOWN_MS: intString(0, 86_400_000).default(60_000),
  // Media storage of outputs (architecture §9).
  MEDIA_STORE_URL: z
    .string()
    .regex(
      /^(file:.+|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?|none)$/,
      'expected file:<dir>, s3://bucket[/prefix] or none',
    )
    .default('file:./data/media'),
  S3_ENDPOINT: httpUrl.optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false'),
  MEDIA_SIGNING_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  MEDIA_LINK_TTL: longDuration.default(86_400_000),
  MEDIA_RETENTION: longDuration.default(30 * 86_400_000),
  MEDIA_MAX_OUTPUT_BYTES: intString(1, 10 * 1024 * 1024 * 1024).default(2 * 1024 * 1024 * 1024),
  MEDIA_COPY_TIMEOUT: duration.default(600_000),
  MEDIA_COPY_CONCURRENCY: intString(1, 64).default(4),
  MEDIA_COPY_ATTEMPTS: intString(1, 20).default(5),
  // Inputs genway serves to upstreams under PUBLIC_URL: live bytes, in all and per tenant.
  MEDIA_PUBLISH_QUOTA_BYTES: intString(1, 64 * 1024 ** 3).default(1024 ** 3),
  MEDIA_PUBLISH_TENANT_QUOTA_BYTES: intString(1, 64 * 1024 ** 3).default(256 * 1024 ** 2),
  WEBHOOK_CONCURRENCY: intString(1, 1000).default(32),
  WEBHOOK_TENANT_CONCURRENCY: intString(1, 1000).default(4),
});
type Env = z.output<typeof EnvSchema>;

/** The optional GATEWAY_CONFIG file (YAML or JSON), after `${VAR}` interpolation. */
function fileSchema(registry: readonly ProviderModule[]) {
  const providerEntries = Object.fromEntries(
    registry.map((provider) => [provider.id, provider.config.file.optional()]),
  );
  return z.strictObject({
    tenants: z
      .array(
        z.object({
          id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
          keys: z.array(z.string().min(16, 'gateway keys must be at least 16 characters')).min(1),
          rate_limit: rateLimitSchema.optional(),
          /** Share of each provider's credential slots and queue places, relative to others (1). */
          weight: z.number().positive().max(1000).optional(),
          budget: budgetSchema.optional(),
          /** The tenant's own signing secret; else one derived from WEBHOOK_SECRET. */
          webhook_secret: whsecSecret.optional(),
        }),
      )
      .default([]),
    /** What tasks cost (architecture §8); the most specific entry wins. */
    prices: z.array(priceSchema).default([]),
    aliases: z.record(z.string(), z.string()).default({}),
    /** Model (public id or alias) → models a create moves to when nothing reached its provider. */
    fallbacks: z.record(z.string(), z.array(z.string().min(1)).max(5)).default({}),
    providers: z.strictObject(providerEntries).default({}),
  });
}
type FileConfig = z.output<ReturnType<typeof fileSchema>>;

/** A tenant id derived from its key: stable across restarts, and reveals nothing of the key. */
export const tenantIdForKey = (key: string) =>
  `tenant_${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;

/** Requests per window a tenant may send (all gateway surfaces together). `max` 0: unlimited. */
interface RateLimit {
  max: number;
  windowMs: number;
}

/**
 * The whole configuration: the environment (read twice: genway's variables, then the
 * providers'), and the GATEWAY_CONFIG file (`{}` when there is none), turned into the Config.
 * The cross-field rules run only once every value is valid; they report through `ctx` too.
 */
export function configSchema(registry: readonly ProviderModule[] = PROVIDERS) {
  const providerEnv = z.object(
    Object.assign({}, ...registry.map((provider) => provider.config.env)) as z.ZodRawShape,
  );
  return z
    .object({ env: EnvSchema, providerEnv, file: fileSchema(registry) })
    .transform((input, ctx) =>
      toConfig(input.env, input.providerEnv, input.file, registry, (variable, message) =>
        ctx.addIssue({ code: 'custom', message, path: ['env', variable] }),
      ),
    );
}

function toConfig(
  e: Env,
  providerEnv: Record<string, unknown>,
  f: FileConfig,
  registry: readonly ProviderModule[],
  report: ReportProblem,
) {
  const providers: Record<string, ProviderSettings> = {};
  for (const provider of registry) {
    const settings = provider.config.settings(
      { env: providerEnv, file: f.providers[provider.id] },
      report,
    );
    if (settings) providers[provider.id] = settings;
  }
  const useEmulators = Object.keys(providers).length === 0;

  const tenants: {
    id: string;
    keys: string[];
    weight?: number;
    rateLimit?: RateLimit;
    budget?: TenantBudget;
    webhookSecret?: string;
  }[] = [
    ...list(e.GATEWAY_API_KEYS).map((key) => ({ id: tenantIdForKey(key), keys: [key] })),
    ...f.tenants.map(({ rate_limit, weight, budget, webhook_secret, ...t }) => ({
      ...t,
      ...(weight !== undefined ? { weight } : {}),
      ...(budget ? { budget: { limitUsd: budget.limit_usd, period: budget.period } } : {}),
      ...(rate_limit
        ? {
            rateLimit: { max: rate_limit.max, windowMs: rate_limit.window ?? e.RATE_LIMIT_WINDOW },
          }
        : {}),
      ...(webhook_secret ? { webhookSecret: webhook_secret } : {}),
    })),
  ];
  for (const key of list(e.GATEWAY_API_KEYS)) {
    if (key.length < 16) report('GATEWAY_API_KEYS', 'every key must be at least 16 characters');
  }
  const devKey = tenants.length === 0;
  if (devKey && !useEmulators) {
    report('GATEWAY_API_KEYS', 'required once provider credentials are configured');
  }
  if (devKey) tenants.push({ id: 'tenant_dev', keys: [DEV_GATEWAY_KEY] });
  // Every tenant signs its webhooks with its own secret (architecture §6): the file's, or one
  // derived from WEBHOOK_SECRET and its id.
  for (const tenant of tenants) {
    if (tenant.webhookSecret === undefined && e.WEBHOOK_SECRET) {
      tenant.webhookSecret = deriveTenantWebhookSecret(e.WEBHOOK_SECRET, tenant.id);
    }
  }
  const seen = new Set<string>();
  for (const key of tenants.flatMap((t) => t.keys)) {
    if (seen.has(key)) report('GATEWAY_API_KEYS', 'a gateway key is listed twice');
    seen.add(key);
  }
  if (
    e.CONNECTION_TIMEOUT_MS <=
    Math.max(e.OPENAI_IMAGES_WAIT_SECONDS, e.MAX_WAIT_SECONDS) * 1000
  ) {
    report(
      'CONNECTION_TIMEOUT_MS',
      'must exceed the longest wait (OPENAI_IMAGES_WAIT_SECONDS, MAX_WAIT_SECONDS)',
    );
  }
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT === e.PORT) {
    report('METRICS_PORT', 'must differ from PORT');
  }
  if (e.POLL_MAX_INTERVAL_MS < e.POLL_INTERVAL_MS.ms) {
    report('POLL_MAX_INTERVAL_MS', 'must be at least POLL_INTERVAL_MS');
  }

  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.PUBLIC_URL ?? null,
    storeUrl: e.STORE_URL,
    /** Prefix of every Redis key when STORE_URL is redis:// (REDIS_KEY_PREFIX). */
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    /** STORE_URL=memory: its bound on finished tasks (MEMORY_STORE_MAX_FINISHED_TASKS, …). */
    memoryStore: {
      maxFinishedTasks: e.MEMORY_STORE_MAX_FINISHED_TASKS,
      finishedRetentionMs: e.MEMORY_STORE_RETENTION_SECONDS * 1000,
    },
    /** Lease of poll and webhook claims (CLAIM_LEASE_MS); null: each loop's own default. */
    claimLeaseMs: e.CLAIM_LEASE_MS ?? null,
    logLevel: e.LOG_LEVEL,
    /**
     * Each with its own limit (file: `tenants[].rate_limit`) or else `rateLimit`, its weight
     * in the fair shares of credential slots and queue places (file: `tenants[].weight`, 1),
     * and its own webhook signing secret (file: `tenants[].webhook_secret`, else derived from
     * WEBHOOK_SECRET; none when neither is set).
     */
    tenants,
    /** No gateway key configured: the documented development key is accepted (emulator mode only). */
    devKey,
    /** WEBHOOK_SECRET: the master secret tenants' signing secrets are derived from; never used to sign. */
    webhookSecret: e.WEBHOOK_SECRET ?? null,
    /**
     * Client webhook attempts in flight at once (WEBHOOK_CONCURRENCY), and at once to one
     * tenant's receivers (WEBHOOK_TENANT_CONCURRENCY): a slow receiver never holds up the others.
     */
    webhookDelivery: {
      concurrency: e.WEBHOOK_CONCURRENCY,
      perTenantConcurrency: e.WEBHOOK_TENANT_CONCURRENCY,
    },
    /**
     * Serve `GET /metrics` on a listener of its own at this port (METRICS_PORT, same HOST); the
     * main port then answers 404 there (0: any free port, for tests). Absent: on the main port.
     */
    metricsPort: e.METRICS_PORT ?? null,
    /** How long store-derived gauges of /metrics are reused before a new scan (METRICS_CACHE_MS). */
    metricsCacheMs: e.METRICS_CACHE_MS,
    /** Bearer token `GET /metrics` requires (METRICS_TOKEN); absent: /metrics is open. */
    ...(e.METRICS_TOKEN ? { metricsToken: e.METRICS_TOKEN } : {}),
    /** Bearer token of `GET /admin/credentials` (ADMIN_TOKEN); absent: that route answers 404. */
    ...(e.ADMIN_TOKEN ? { adminToken: e.ADMIN_TOKEN } : {}),
    /** Default per-tenant request limit (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW); `max` 0: none. */
    rateLimit: { max: e.RATE_LIMIT_MAX, windowMs: e.RATE_LIMIT_WINDOW },
    /** In-flight caps, the wait queue and the circuit breaker of upstream credentials. */
    credentialPolicy: {
      /** Creates that may wait per provider while every credential is at its cap (QUEUE_MAX). */
      queueMax: e.QUEUE_MAX,
      /** How long such a create waits for a slot (QUEUE_WAIT_MS). */
      queueWaitMs: e.QUEUE_WAIT_MS,
      /** Consecutive transient failures that take a credential out of rotation. */
      failureThreshold: e.CREDENTIAL_FAILURE_THRESHOLD,
      /** How long it stays out before one trial request (CREDENTIAL_COOLDOWN_MS). */
      coolDownMs: e.CREDENTIAL_COOLDOWN_MS,
    },
    outboundAllowlist: list(e.OUTBOUND_ALLOWLIST),
    aliases: f.aliases,
    /** Prices of tasks (GATEWAY_CONFIG `prices`); none: tasks cost nothing known. */
    prices: f.prices.map(priceEntryOf),
    /**
     * Model (public id or alias) → models a create may move to, in order, when its own provider
     * provably got nothing (connect refused, DNS, no usable credential). GATEWAY_CONFIG
     * `fallbacks`; none when unset.
     */
    fallbacks: f.fallbacks,
    // Built by the modules of `registry`; typed as the real list's (tests add to that list).
    providers: providers as ProvidersConfig,
    /** No provider credentials at all: serve against the built-in emulators. */
    useEmulators,
    polling: {
      intervalMs: e.POLL_INTERVAL_MS.ms,
      maxIntervalMs: e.POLL_MAX_INTERVAL_MS,
      unreachableDeadlineMs: e.UPSTREAM_UNREACHABLE_DEADLINE_MS,
      /** POLL_INTERVAL_MS was set: it replaces the adapters' own per-operation intervals. */
      intervalOverridesAdapters: e.POLL_INTERVAL_MS.set,
      /** Polls per second per upstream credential unless configured otherwise. */
      budgetPerSecond: e.POLL_BUDGET_PER_SECOND,
    },
    limits: {
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      maxWaitSeconds: e.MAX_WAIT_SECONDS,
      /**
       * How long `POST /openai/v1/images/generations` (synchronous in OpenAI's API) holds the
       * answer for the task to finish (OPENAI_IMAGES_WAIT_SECONDS).
       */
      openaiImagesWaitSeconds: e.OPENAI_IMAGES_WAIT_SECONDS,
      /** Interval of `: ping` comments on `GET /v1/tasks/{id}/events` (SSE_HEARTBEAT_MS). */
      sseHeartbeatMs: e.SSE_HEARTBEAT_MS,
      /** Time to receive a whole request, headers and body (REQUEST_TIMEOUT_MS). */
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      /** A connection with no traffic either way this long is closed (CONNECTION_TIMEOUT_MS). */
      connectionTimeoutMs: e.CONNECTION_TIMEOUT_MS,
      /**
       * Requests held open at once (SSE streams, long-polls, `Prefer: wait`): in all
       * (MAX_HELD_REQUESTS) and per tenant (MAX_HELD_REQUESTS_PER_TENANT); 0: no cap.
       */
      heldRequests: { total: e.MAX_HELD_REQUESTS, perTenant: e.MAX_HELD_REQUESTS_PER_TENANT },
    },
    /**
     * Idempotency-Keys on creates: how long a key is remembered (IDEMPOTENCY_TTL_SECONDS) and
     * how long a request waits for one in progress before a 409 (IDEMPOTENCY_WAIT_MS).
     */
    idempotency: { ttlMs: e.IDEMPOTENCY_TTL_SECONDS * 1000, waitMs: e.IDEMPOTENCY_WAIT_MS },
    /** Headers and body timeout of upstream calls (UPSTREAM_TIMEOUT_MS). */
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    /** Where outputs are copied and how they are served (architecture §9). */
    media: {
      /** MEDIA_STORE_URL: `file:<dir>`, `s3://bucket[/prefix]` or `none`. */
      storeUrl: e.MEDIA_STORE_URL,
      s3: {
        endpoint: e.S3_ENDPOINT ?? null,
        region: e.S3_REGION,
        forcePathStyle: e.S3_FORCE_PATH_STYLE === 'true',
      },
      /** MEDIA_SIGNING_KEY; null: derived from WEBHOOK_SECRET, else random per start. */
      signingKey: e.MEDIA_SIGNING_KEY ?? null,
      linkTtlMs: e.MEDIA_LINK_TTL,
      retentionMs: e.MEDIA_RETENTION,
      maxOutputBytes: e.MEDIA_MAX_OUTPUT_BYTES,
      copyTimeoutMs: e.MEDIA_COPY_TIMEOUT,
      copyConcurrency: e.MEDIA_COPY_CONCURRENCY,
      copyAttempts: e.MEDIA_COPY_ATTEMPTS,
      /** Files published for upstreams (MediaHost): live bytes in all, and per tenant. */
      publishQuotaBytes: e.MEDIA_PUBLISH_QUOTA_BYTES,
      publishTenantQuotaBytes: e.MEDIA_PUBLISH_TENANT_QUOTA_BYTES,
    },
  };
}

/** The validated configuration: what `configSchema` turns the environment and file into. */
export type Config = z.output<ReturnType<typeof configSchema>>;
