import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/config.js';
import { TaskCosts } from '../domain/costs.js';
import { CredentialPool } from '../domain/credential-pool.js';
import { createDueSignals } from '../domain/due-signal.js';
import { MediaHost, MEDIA_PURGE_EVERY_MS } from '../domain/media-host.js';
import { ModelRegistry, type ProviderEntry } from '../domain/models.js';
import { OutputService } from '../domain/output-service.js';
import type { MediaLinkSigner } from '../domain/media-links.js';
import { Poller } from '../domain/poller.js';
import { TaskEvents } from '../domain/task-events.js';
import { TaskService } from '../domain/task-service.js';
import { StoreUnavailableError, type TaskStore } from '../domain/task-store.js';
import type { TenantBudget } from '../domain/admin-store.js';
import { UpstreamCallbackService } from '../domain/upstream-callbacks.js';
import { WebhookDispatcher, type WebhookDispatcherOptions } from '../domain/webhook-dispatcher.js';
import { callbackUrlUnder } from '../http/routes/callbacks/index.js';
import { surfaceWebhookBodies } from '../http/surfaces.js';
import { createOutbound, type Outbound } from '../net/outbound.js';
import { callerUrlCheck, inputUrlCheck } from '../net/url-check.js';
import { createWebhookSender } from '../net/webhook-sender.js';
import { poolCredentials, type GatewayMetrics } from '../observability/metrics.js';
import { createAddressPolicy } from '../net/address-policy.js';
import { UndiciOutputFetcher } from '../providers/output-fetcher.js';
import { settingsIn, type ProviderModule } from '../providers/provider-module.js';
import { buildProviders, type ProviderRegistration } from '../providers/registrations.js';
import { PROVIDERS } from '../providers/registry.js';
import { coordinationFor, type StoreCoordination } from '../store/coordination.js';
import { createTaskStore } from '../store/index.js';
import { GatewayError } from '../errors/gateway-error.js';
import { RedisTaskStore } from '../store/redis-store.js';
import { createMediaStorage } from './media-storage.js';

export interface RuntimeDeps {
  store?: TaskStore;
  providers?: Map<string, ProviderRegistration>;
  /** The providers genway knows (their adapters, callback routes, secrets); tests add one. */
  registry?: readonly ProviderModule[];
  /**
   * Calls to caller-supplied URLs (webhooks) and the address check of URLs handed to upstreams;
   * tests inject a resolver and a loopback guard.
   */
  outbound?: Outbound;
  /** Tests that drive polls by hand turn the background poller off. */
  poller?: boolean;
  /**
   * Client webhook delivery (runs only with WEBHOOK_SECRET): tests shrink the retry schedule
   * and the per-attempt time cap; `false` turns the dispatcher off.
   */
  webhooks?: false | (WebhookDispatcherOptions & { attemptTimeoutMs?: number });
}

/** What the routes are built on: the domain services, never an adapter or a loop. */
export interface RuntimeServices {
  store: TaskStore;
  models: ModelRegistry;
  pools: ReadonlyMap<string, CredentialPool>;
  tasks: TaskService;
  outputs: OutputService;
  media: MediaHost;
  /** Signs links to stored outputs; absent when MEDIA_STORE_URL=none. */
  mediaLinks?: MediaLinkSigner;
  callbacks: UpstreamCallbackService;
  /** The provider modules this app serves (their callback routes among them). */
  registry: readonly ProviderModule[];
  /** What instances sharing the store share besides its data (cluster mode: Redis). */
  coordination: StoreCoordination;
}

/**
 * The runtime: store, provider adapters and their credential pools, the domain services and
 * the background loops (poller, client webhooks, media purge). `start()` starts the loops
 * (the app calls it when ready); `close()` stops everything, in dependency order.
 */
export interface Runtime extends RuntimeServices {
  start(): void;
  close(): Promise<void>;
}

export interface RuntimeContext {
  metrics: GatewayMetrics;
  logger: FastifyBaseLogger;
}

/** Webhooks only for tenants that sign them; then the URL rules of `checkUrl`. */
function tenantWebhookCheck(
  secrets: ReadonlyMap<string, string>,
  checkUrl: (url: string) => Promise<void>,
): (url: string, tenant: string) => Promise<void> {
  return async (url, tenant) => {
    if (!secrets.has(tenant)) {
      const message =
        'Webhooks are not enabled for this tenant (no signing secret: WEBHOOK_SECRET or tenants[].webhook_secret)';
      throw GatewayError.invalid([{ path: 'webhook', message }], message);
    }
    await checkUrl(url);
  };
}

export async function createRuntime(
  config: Config,
  deps: RuntimeDeps,
  { metrics, logger }: RuntimeContext,
): Promise<Runtime> {
  const registry = deps.registry ?? PROVIDERS;
  const store =
    deps.store ??
    createTaskStore(config.storeUrl, {
      redisKeyPrefix: config.redisKeyPrefix,
      logger,
      memoryLimits: config.memoryStore,
    });
  const registrations = deps.providers ?? buildProviders(config, { metrics, registry });
  const coordination = coordinationFor(store, {
    logger,
    onReset: () => metrics.storeReset(),
    // A create's slot reservation lives as long as a claim: its task is stored long before.
    ...(config.claimLeaseMs ? { slotLeaseMs: config.claimLeaseMs } : {}),
  });
  const pools = new Map<string, CredentialPool>();
  const entries = new Map<string, ProviderEntry>();
  const weights = new Map(config.tenants.map((t) => [t.id, t.weight ?? 1]));
  for (const [id, reg] of registrations) {
    const policy = config.credentialPolicy;
    const pool = new CredentialPool(id, reg.credentials, reg.strategy, {
      defaultMaxInFlight: reg.defaultMaxInFlight,
      queue: { max: policy.queueMax, waitMs: policy.queueWaitMs },
      health: {
        failureThreshold: policy.failureThreshold,
        coolDownMs: policy.coolDownMs,
        shared: coordination.circuits,
      },
      weightOf: (tenant) => weights.get(tenant) ?? 1,
      logger,
      // Cluster mode: caps hold over every instance (one process: counted here).
      shared: coordination.slots,
    });
    pools.set(id, pool);
    entries.set(id, { adapter: reg.adapter, emulated: reg.emulated });
  }
  // In-flight counts come from the store's unfinished tasks; a store that is down at boot
  // (Redis) is asked again until it answers, and the app starts meanwhile (503s until then).
  const seeding = await seedPools(store, pools, logger, {
    // Cluster mode: the counts include the other instances' tasks, and a dead instance's
    // slots come back as its tasks finish (slots belong to unfinished tasks, not processes).
    refreshMs: store instanceof RedisTaskStore ? CLUSTER_COUNTS_REFRESH_MS : undefined,
  });
  metrics.watch({
    store,
    providers: [...registrations.keys()],
    credentials: () => poolCredentials(pools),
    cacheMs: config.metricsCacheMs,
    onError: (err, what) => logger.warn({ err }, `metrics: ${what} unavailable`),
  });
  const models = new ModelRegistry(entries, config.aliases);
  const events = new TaskEvents(coordination.feed);
  // Raised by the task writer, heard by the poller and the webhook dispatcher.
  const due = createDueSignals();
  const media = new MediaHost({
    store,
    publicUrl: config.publicUrl,
    quotaBytes: config.media.publishQuotaBytes,
    tenantQuotaBytes: config.media.publishTenantQuotaBytes,
  });
  // Each tenant's own signing secret (configured, or derived from WEBHOOK_SECRET).
  const webhookSecrets = new Map(
    config.tenants.flatMap((t) => (t.webhookSecret ? [[t.id, t.webhookSecret] as const] : [])),
  );
  const outbound = deps.outbound ?? createOutbound({ allowlist: config.outboundAllowlist });
  // Copies of outputs download through the output service (built below: it needs the tasks).
  const late: { outputs?: OutputService } = {};
  const storage = await createMediaStorage(config, {
    store,
    logger,
    metrics,
    download: (task, index, signal) => late.outputs!.download(task, index, signal),
  });
  const budgetOf = configuredBudgets(config);
  const costs = new TaskCosts({
    prices: config.prices,
    store: store.admin,
    // A tenant of the admin API first, then one of the configuration file.
    budgetOf: async (tenant) => (await store.admin.getTenant(tenant))?.budget ?? budgetOf(tenant),
    getTask: (id) => store.get(id),
    now: Date.now,
    logger,
    onCharged: (provider, model, usd) => metrics.charged(provider, model, usd),
  });
  const tasks = new TaskService({
    store,
    models,
    pools,
    events,
    polling: config.polling,
    // Per credential: its own polls_per_second, else its provider's, else POLL_BUDGET_PER_SECOND.
    pollBudget: coordination.pollBudget(
      (provider, credentialId) =>
        pools.get(provider)?.byId(credentialId)?.pollsPerSecond ??
        settingsIn(config.providers, provider)?.pollsPerSecond ??
        config.polling.budgetPerSecond,
    ),
    logger,
    due,
    metrics,
    publishMedia: config.publicUrl ? media.publish : undefined,
    storedOutputLinks:
      storage && config.publicUrl ? storage.signer.linksUnder(config.publicUrl) : undefined,
    // Upstream webhooks are asked for only when genway knows its own public URL.
    callbackUrl: callbackUrlUnder(config.publicUrl),
    checkWebhookUrl:
      webhookSecrets.size > 0
        ? tenantWebhookCheck(webhookSecrets, callerUrlCheck(outbound, 'webhook.url'))
        : undefined,
    // Caller URLs an upstream fetches itself: the same address rules (genway's own links pass).
    checkCallerUrl: inputUrlCheck(outbound, {
      trustedOrigins: config.publicUrl ? [new URL(config.publicUrl).origin] : [],
    }),
    idempotency: config.idempotency,
    fallbacks: config.fallbacks,
    copies: storage?.copies,
    deleteMedia: storage?.deleteTaskMedia,
    costs,
    // Webhooks asked for through a compatible surface carry that surface's own object.
    webhookBodies: surfaceWebhookBodies(
      models,
      storage && ((base) => storage.signer.linksUnder(base)),
    ),
  });
  // Output hosts are checked like any outbound address; the providers' configured origins
  // (an emulator or relay on loopback, say) are the operator's choice and reached as set.
  const fetcher = new UndiciOutputFetcher({
    addressPolicy: createAddressPolicy(config.outboundAllowlist),
    exemptOrigins: Object.values(config.providers).map((p) => new URL(p.baseUrl).origin),
  });
  const outputs = new OutputService({ tasks, models, fetcher, media: storage?.media, store });
  late.outputs = outputs;
  const mediaPurge = setInterval(() => {
    media.purge().catch((err: unknown) => logger.warn({ err }, 'media purge failed'));
    // Budget reservations of tasks that never ended, past their deadline.
    costs.purge().catch((err: unknown) => logger.warn({ err }, 'reservation purge failed'));
    // Files uploaded through a compatible surface, past their expiry.
    store.purgeFiles(Date.now()).catch((err: unknown) => logger.warn({ err }, 'file purge failed'));
  }, MEDIA_PURGE_EVERY_MS).unref();
  const poller =
    deps.poller !== false
      ? new Poller(store, tasks, logger, {
          due: due.polls,
          ...(config.claimLeaseMs ? { leaseMs: config.claimLeaseMs } : {}),
        })
      : undefined;
  // Client webhook delivery: only when some tenant has a signing secret, unless the test
  // turned it off.
  const { attemptTimeoutMs, ...webhookOptions } = deps.webhooks || {};
  const dispatcher =
    webhookSecrets.size > 0 && deps.webhooks !== false
      ? new WebhookDispatcher(
          store,
          createWebhookSender(outbound, {
            secretOf: (tenant) => webhookSecrets.get(tenant),
            timeoutMs: attemptTimeoutMs,
          }),
          logger,
          {
            metrics,
            due: due.webhooks,
            links: storage?.webhookLinks,
            ...config.webhookDelivery,
            ...(config.claimLeaseMs ? { leaseMs: config.claimLeaseMs } : {}),
            ...webhookOptions,
          },
        )
      : undefined;
  const callbacks = new UpstreamCallbackService({ store, models, tasks, logger });

  return {
    store,
    models,
    pools,
    tasks,
    outputs,
    media,
    mediaLinks: storage?.signer,
    callbacks,
    registry,
    coordination,
    start() {
      poller?.start();
      dispatcher?.start();
      storage?.start();
    },
    async close() {
      seeding.stop();
      for (const pool of pools.values()) pool.close();
      await poller?.stop();
      await dispatcher?.stop();
      await storage?.close();
      clearInterval(mediaPurge);
      await fetcher.close();
      if (!deps.outbound) await outbound.close();
      await Promise.all([...registrations.values()].map((r) => r.adapter.close?.()));
      await coordination.close();
      await store.close();
    },
  };
}

/** Budgets of the configuration file's tenants (`tenants[].budget`). */
function configuredBudgets(config: Config): (tenant: string) => TenantBudget | null {
  const budgets = new Map(config.tenants.flatMap((t) => (t.budget ? [[t.id, t.budget]] : [])));
  return (tenant) => budgets.get(tenant) ?? null;
}

/** How often pools are seeded again while the store is down at boot. */
const SEED_RETRY_MS = 1000;
/** Cluster mode: how often in-flight counts are read again from the shared store. */
const CLUSTER_COUNTS_REFRESH_MS = 1000;

/**
 * Seeds every pool's in-flight counts from the store; while the store cannot answer, tries
 * again every second in the background. Resolves once the first attempt is over either way.
 */
async function seedPools(
  store: TaskStore,
  pools: ReadonlyMap<string, CredentialPool>,
  logger: FastifyBaseLogger,
  { refreshMs }: { refreshMs?: number } = {},
): Promise<{ stop(): void }> {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const left = new Set(pools.keys());
  const attempt = async () => {
    for (const provider of [...left]) {
      try {
        const pool = pools.get(provider);
        const counts = await store.countActiveByCredential(provider);
        // A credential without unfinished tasks is not listed: its count is 0.
        for (const { id } of pool?.status() ?? []) if (!counts.has(id)) counts.set(id, 0);
        pool?.seed(counts);
        left.delete(provider);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
      }
    }
    if (stopped) return;
    if (left.size > 0) {
      if (!timer) logger.warn({}, 'store unavailable: in-flight counts read once it answers');
      timer = setTimeout(() => void attempt().catch(failed), SEED_RETRY_MS);
    } else if (refreshMs) {
      for (const provider of pools.keys()) left.add(provider);
      timer = setTimeout(() => void attempt().catch(failed), refreshMs);
    }
    timer?.unref();
  };
  const failed = (err: unknown) => logger.error({ err }, 'seeding in-flight counts failed');
  await attempt();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
