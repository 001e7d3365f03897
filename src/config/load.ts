import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  DEV_GATEWAY_KEY,
  type Config,
  type Credential,
  type ProvidersConfig,
  type TenantConfig,
} from './config.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const boolString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const httpUrl = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ''));
const intString = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
};
/** A duration: milliseconds (`60000`), or a number and a unit (`30s`, `1m`, `1 minute`, `2h`). */
const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(v));
  const unit = m ? DURATION_UNITS[(m[2] || 'ms').toLowerCase()] : undefined;
  const ms = m && unit ? Math.round(Number(m[1]) * unit) : NaN;
  if (!(ms >= 1 && ms <= 86_400_000)) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected a duration of 1 ms to 24 h: milliseconds, or e.g. 30s, 1m, 1 minute, 1h',
    });
    return z.NEVER;
  }
  return ms;
});
/** Requests per window: `max` 0 turns the limit off. */
const rateLimitSchema = z.strictObject({
  max: z.number().int().min(0).max(1_000_000),
  window: duration.optional(),
});

/** Environment variables of the contract (architecture §3), plus a few operational knobs. */
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
  PUBLIC_URL: httpUrl.optional(),
  WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]{16,}$/, 'expected whsec_ followed by a base64 secret')
    .optional(),
  OUTBOUND_ALLOWLIST: z.string().optional(),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  MODELSLAB_BASE_URL: httpUrl.default('https://modelslab.com'),
  MODELSLAB_API_KEYS: z.string().optional(),
  MODELSLAB_LOAD_BALANCER: boolString.default(true),
  MODELSLAB_VIDEO_PATH: z
    .enum(['/api/v1/enterprise/video/text2video', '/api/v1/enterprise/text2video'])
    .default('/api/v1/enterprise/video/text2video'),
  REPLICATE_BASE_URL: httpUrl.default('https://api.replicate.com/v1'),
  REPLICATE_API_TOKEN: z.string().optional(),
  REPLICATE_MODELS: z.string().optional(),
  REPLICATE_WEBHOOK_SECRET: z
    .string()
    .regex(
      /^whsec_[A-Za-z0-9+/=]{16,}(\s*,\s*whsec_[A-Za-z0-9+/=]{16,})*$/,
      'expected the whsec_ secret from GET /webhooks/default/secret (comma-separated for several accounts)',
    )
    .optional(),
  PIXVERSE_BASE_URL: httpUrl.default('https://app-api.pixverse.ai/openapi/v2'),
  PIXVERSE_API_KEY: z.string().optional(),
  PIXVERSE_WEBHOOK_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected the webhook_id shown in the PixVerse console')
    .optional(),
  PIXVERSE_WEBHOOK_SECRET: z.string().min(8, 'must be at least 8 characters').optional(),
  HAIPER_BASE_URL: httpUrl.default('https://genaiapi.cloudsway.net/v1/ai'),
  HAIPER_ENDPOINT_PATH: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional(),
  HAIPER_ACCESS_KEY: z.string().optional(),
  POLL_INTERVAL_MS: intString(10, 600_000).default(2000),
  POLL_MAX_INTERVAL_MS: intString(10, 3_600_000).default(30_000),
  UPSTREAM_UNREACHABLE_DEADLINE_MS: intString(1000, 86_400_000).default(600_000),
  POLL_BUDGET_PER_SECOND: z.coerce.number().positive().max(100_000).default(10),
  SSE_HEARTBEAT_MS: intString(50, 300_000).default(15_000),
  BODY_LIMIT_BYTES: intString(1024, 100 * 1024 * 1024).default(1024 * 1024),
  MAX_WAIT_SECONDS: intString(1, 60).default(60),
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
  MODELSLAB_MAX_IN_FLIGHT: intString(1, 100_000).optional(),
  REPLICATE_MAX_IN_FLIGHT: intString(1, 100_000).optional(),
  PIXVERSE_MAX_IN_FLIGHT: intString(1, 100_000).optional(),
  HAIPER_MAX_IN_FLIGHT: intString(1, 100_000).optional(),
});

const credentialSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  secret: z.string().min(1),
  max_in_flight: z.number().int().min(1).optional(),
  polls_per_second: z.number().positive().optional(),
});
const providerFileSchema = z.object({
  base_url: httpUrl.optional(),
  credentials: z.array(credentialSchema).default([]),
  polls_per_second: z.number().positive().optional(),
});

/** The optional GATEWAY_CONFIG file (YAML or JSON), after `${VAR}` interpolation. */
const FileSchema = z.strictObject({
  tenants: z
    .array(
      z.object({
        id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
        keys: z.array(z.string().min(16, 'gateway keys must be at least 16 characters')).min(1),
        rate_limit: rateLimitSchema.optional(),
      }),
    )
    .default([]),
  aliases: z.record(z.string(), z.string()).default({}),
  /** Model (public id or alias) → models a create moves to when nothing reached its provider. */
  fallbacks: z.record(z.string(), z.array(z.string().min(1)).max(5)).default({}),
  providers: z
    .strictObject({
      modelslab: providerFileSchema
        .extend({ load_balancer: z.boolean().optional(), video_path: z.string().optional() })
        .optional(),
      replicate: providerFileSchema.extend({ models: z.array(z.string()).optional() }).optional(),
      pixverse: providerFileSchema.optional(),
      haiper: providerFileSchema.extend({ endpoint_path: z.string().optional() }).optional(),
    })
    .default({}),
});
type FileConfig = z.infer<typeof FileSchema>;

function issuesOf(error: z.ZodError, prefix: (path: PropertyKey[]) => string): string[] {
  return error.issues.map((i) => `${prefix(i.path)}: ${i.message}`);
}

/** Replaces `${VAR}` in every string of a parsed file; unknown variables are reported. */
function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: string[],
  path: string,
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) problems.push(`GATEWAY_CONFIG ${path}: variable \${${name}} is not set`);
      return v ?? '';
    });
  }
  if (Array.isArray(value))
    return value.map((v, i) => interpolate(v, env, problems, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        interpolate(v, env, problems, path ? `${path}.${k}` : k),
      ]),
    );
  }
  return value;
}

function readFileConfig(
  file: string,
  env: NodeJS.ProcessEnv,
  problems: string[],
): FileConfig | undefined {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    problems.push(`GATEWAY_CONFIG: cannot read ${file}: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
  const parsed = FileSchema.safeParse(interpolate(raw ?? {}, env, problems, ''));
  if (!parsed.success) {
    problems.push(...issuesOf(parsed.error, (p) => `GATEWAY_CONFIG ${p.join('.') || '(root)'}`));
    return undefined;
  }
  return parsed.data;
}

const envCredentials = (provider: string, secrets: string[], maxInFlight?: number): Credential[] =>
  secrets.map((secret, i) => ({
    id: `${provider}-${i + 1}`,
    secret,
    ...(maxInFlight !== undefined ? { maxInFlight } : {}),
  }));

const fileCredentials = (
  creds: { id: string; secret: string; max_in_flight?: number; polls_per_second?: number }[],
) =>
  creds.map((c) => ({
    id: c.id,
    secret: c.secret,
    maxInFlight: c.max_in_flight,
    ...(c.polls_per_second !== undefined ? { pollsPerSecond: c.polls_per_second } : {}),
  }));

/** A provider's `polls_per_second` from the file, as a settings field. */
const providerBudget = (p: { polls_per_second?: number } | undefined) =>
  p?.polls_per_second !== undefined ? { pollsPerSecond: p.polls_per_second } : {};

/** A tenant id derived from its key: stable across restarts, and reveals nothing of the key. */
export const tenantIdForKey = (key: string) =>
  `tenant_${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;

/**
 * Reads and validates the whole configuration at once. Throws ConfigError listing every
 * problem, each naming its variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const parsedEnv = EnvSchema.safeParse(env);
  if (!parsedEnv.success) problems.push(...issuesOf(parsedEnv.error, (p) => String(p[0])));
  const file = env.GATEWAY_CONFIG ? readFileConfig(env.GATEWAY_CONFIG, env, problems) : undefined;
  if (!parsedEnv.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsedEnv.data;
  const f = file ?? FileSchema.parse({});

  const providers: ProvidersConfig = {};
  const ml = f.providers.modelslab;
  const mlCreds = [
    ...envCredentials('modelslab', list(e.MODELSLAB_API_KEYS), e.MODELSLAB_MAX_IN_FLIGHT),
    ...fileCredentials(ml?.credentials ?? []),
  ];
  if (mlCreds.length > 0) {
    providers.modelslab = {
      baseUrl: ml?.base_url ?? e.MODELSLAB_BASE_URL,
      credentials: mlCreds,
      emulated: false,
      loadBalancer: ml?.load_balancer ?? e.MODELSLAB_LOAD_BALANCER,
      videoPath: ml?.video_path ?? e.MODELSLAB_VIDEO_PATH,
      ...providerBudget(ml),
    };
  }
  const rep = f.providers.replicate;
  const repCreds = [
    ...envCredentials('replicate', list(e.REPLICATE_API_TOKEN), e.REPLICATE_MAX_IN_FLIGHT),
    ...fileCredentials(rep?.credentials ?? []),
  ];
  if (repCreds.length > 0) {
    providers.replicate = {
      baseUrl: rep?.base_url ?? e.REPLICATE_BASE_URL,
      credentials: repCreds,
      emulated: false,
      models: rep?.models ?? list(e.REPLICATE_MODELS),
      ...(e.REPLICATE_WEBHOOK_SECRET ? { webhookSecrets: list(e.REPLICATE_WEBHOOK_SECRET) } : {}),
      ...providerBudget(rep),
    };
  }
  const px = f.providers.pixverse;
  const pxCreds = [
    ...envCredentials('pixverse', list(e.PIXVERSE_API_KEY), e.PIXVERSE_MAX_IN_FLIGHT),
    ...fileCredentials(px?.credentials ?? []),
  ];
  if (pxCreds.length > 0) {
    providers.pixverse = {
      baseUrl: px?.base_url ?? e.PIXVERSE_BASE_URL,
      credentials: pxCreds,
      emulated: false,
      ...(e.PIXVERSE_WEBHOOK_ID ? { webhookId: e.PIXVERSE_WEBHOOK_ID } : {}),
      ...(e.PIXVERSE_WEBHOOK_SECRET ? { webhookSecret: e.PIXVERSE_WEBHOOK_SECRET } : {}),
      ...providerBudget(px),
    };
  }
  const hp = f.providers.haiper;
  const hpCreds = [
    ...envCredentials('haiper', list(e.HAIPER_ACCESS_KEY), e.HAIPER_MAX_IN_FLIGHT),
    ...fileCredentials(hp?.credentials ?? []),
  ];
  if (hpCreds.length > 0) {
    const endpointPath = hp?.endpoint_path ?? e.HAIPER_ENDPOINT_PATH;
    if (!endpointPath)
      problems.push('HAIPER_ENDPOINT_PATH: required when HAIPER_ACCESS_KEY is set');
    providers.haiper = {
      baseUrl: hp?.base_url ?? e.HAIPER_BASE_URL,
      credentials: hpCreds,
      emulated: false,
      endpointPath: endpointPath ?? '',
      ...providerBudget(hp),
    };
  }

  if (e.PIXVERSE_WEBHOOK_ID && !e.PIXVERSE_WEBHOOK_SECRET) {
    problems.push(
      'PIXVERSE_WEBHOOK_SECRET: required with PIXVERSE_WEBHOOK_ID (callbacks are verified with it)',
    );
  }

  const useEmulators = Object.keys(providers).length === 0;
  const tenants: TenantConfig[] = [
    ...list(e.GATEWAY_API_KEYS).map((key) => ({ id: tenantIdForKey(key), keys: [key] })),
    ...f.tenants.map(({ rate_limit, ...t }) => ({
      ...t,
      ...(rate_limit
        ? { rateLimit: { max: rate_limit.max, windowMs: rate_limit.window ?? e.RATE_LIMIT_WINDOW } }
        : {}),
    })),
  ];
  for (const key of list(e.GATEWAY_API_KEYS)) {
    if (key.length < 16)
      problems.push('GATEWAY_API_KEYS: every key must be at least 16 characters');
  }
  const devKey = tenants.length === 0;
  if (devKey && !useEmulators) {
    problems.push('GATEWAY_API_KEYS: required once provider credentials are configured');
  }
  if (devKey) tenants.push({ id: 'tenant_dev', keys: [DEV_GATEWAY_KEY] });
  const seen = new Set<string>();
  for (const key of tenants.flatMap((t) => t.keys)) {
    if (seen.has(key)) problems.push('GATEWAY_API_KEYS: a gateway key is listed twice');
    seen.add(key);
  }
  if (e.POLL_MAX_INTERVAL_MS < e.POLL_INTERVAL_MS) {
    problems.push('POLL_MAX_INTERVAL_MS: must be at least POLL_INTERVAL_MS');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.PUBLIC_URL ?? null,
    storeUrl: e.STORE_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    logLevel: e.LOG_LEVEL,
    tenants,
    devKey,
    webhookSecret: e.WEBHOOK_SECRET ?? null,
    ...(e.METRICS_TOKEN ? { metricsToken: e.METRICS_TOKEN } : {}),
    ...(e.ADMIN_TOKEN ? { adminToken: e.ADMIN_TOKEN } : {}),
    rateLimit: { max: e.RATE_LIMIT_MAX, windowMs: e.RATE_LIMIT_WINDOW },
    credentialPolicy: {
      queueMax: e.QUEUE_MAX,
      queueWaitMs: e.QUEUE_WAIT_MS,
      failureThreshold: e.CREDENTIAL_FAILURE_THRESHOLD,
      coolDownMs: e.CREDENTIAL_COOLDOWN_MS,
    },
    outboundAllowlist: list(e.OUTBOUND_ALLOWLIST),
    aliases: f.aliases,
    fallbacks: f.fallbacks,
    providers,
    useEmulators,
    polling: {
      intervalMs: e.POLL_INTERVAL_MS,
      maxIntervalMs: e.POLL_MAX_INTERVAL_MS,
      unreachableDeadlineMs: e.UPSTREAM_UNREACHABLE_DEADLINE_MS,
      intervalOverridesAdapters: env.POLL_INTERVAL_MS !== undefined,
      budgetPerSecond: e.POLL_BUDGET_PER_SECOND,
    },
    limits: {
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      maxWaitSeconds: e.MAX_WAIT_SECONDS,
      openaiImagesWaitSeconds: e.OPENAI_IMAGES_WAIT_SECONDS,
      sseHeartbeatMs: e.SSE_HEARTBEAT_MS,
    },
    idempotency: {
      ttlMs: e.IDEMPOTENCY_TTL_SECONDS * 1000,
      waitMs: e.IDEMPOTENCY_WAIT_MS,
    },
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
  };
}

/** Every secret in the configuration, for log redaction and the tests' secret scans. */
export function secretsOf(config: Config): string[] {
  const providerSecrets = Object.values(config.providers).flatMap((p) =>
    (p?.credentials ?? []).map((c: Credential) => c.secret),
  );
  const keys = config.tenants.flatMap((t) => t.keys).filter((k) => k !== DEV_GATEWAY_KEY);
  return [
    ...providerSecrets,
    ...keys,
    ...(config.webhookSecret ? [config.webhookSecret] : []),
    ...(config.providers.replicate?.webhookSecrets ?? []),
    ...(config.providers.pixverse?.webhookSecret ? [config.providers.pixverse.webhookSecret] : []),
    ...(config.metricsToken ? [config.metricsToken] : []),
    ...(config.adminToken ? [config.adminToken] : []),
  ];
}
