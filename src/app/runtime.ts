import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/config.js';
import { CredentialPool } from '../domain/credential-pool.js';
import { createDueSignals } from '../domain/due-signal.js';
import { MediaHost, MEDIA_PURGE_EVERY_MS } from '../domain/media-host.js';
import { ModelRegistry, type ProviderEntry } from '../domain/models.js';
import { OutputService } from '../domain/output-service.js';
import { PollBudget } from '../domain/poll-budget.js';
import { Poller } from '../domain/poller.js';
import { TaskEvents } from '../domain/task-events.js';
import { TaskService } from '../domain/task-service.js';
import type { TaskStore } from '../domain/task-store.js';
import { UpstreamCallbackService } from '../domain/upstream-callbacks.js';
import { WebhookDispatcher, type WebhookDispatcherOptions } from '../domain/webhook-dispatcher.js';
import { callbackUrlUnder } from '../http/routes/callbacks/index.js';
import { createOutbound, type Outbound } from '../net/outbound.js';
import { callerUrlCheck } from '../net/url-check.js';
import { createWebhookSender } from '../net/webhook-sender.js';
import { poolCredentials, type GatewayMetrics } from '../observability/metrics.js';
import { UndiciOutputFetcher } from '../providers/output-fetcher.js';
import { settingsIn, type ProviderModule } from '../providers/provider-module.js';
import { buildProviders, type ProviderRegistration } from '../providers/registrations.js';
import { PROVIDERS } from '../providers/registry.js';
import { createTaskStore } from '../store/index.js';

export interface RuntimeDeps {
  store?: TaskStore;
  providers?: Map<string, ProviderRegistration>;
  /** The providers genway knows (their adapters, callback routes, secrets); tests add one. */
  registry?: readonly ProviderModule[];
  /** Calls to caller-supplied URLs (webhooks); tests inject a resolver and a loopback guard. */
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
  callbacks: UpstreamCallbackService;
  /** The provider modules this app serves (their callback routes among them). */
  registry: readonly ProviderModule[];
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

export async function createRuntime(
  config: Config,
  deps: RuntimeDeps,
  { metrics, logger }: RuntimeContext,
): Promise<Runtime> {
  const registry = deps.registry ?? PROVIDERS;
  const store =
    deps.store ??
    createTaskStore(config.storeUrl, { redisKeyPrefix: config.redisKeyPrefix, logger });
  const registrations = deps.providers ?? buildProviders(config, { metrics, registry });
  const pools = new Map<string, CredentialPool>();
  const entries = new Map<string, ProviderEntry>();
  const weights = new Map(config.tenants.map((t) => [t.id, t.weight ?? 1]));
  for (const [id, reg] of registrations) {
    const policy = config.credentialPolicy;
    const pool = new CredentialPool(id, reg.credentials, reg.strategy, {
      defaultMaxInFlight: reg.defaultMaxInFlight,
      queue: { max: policy.queueMax, waitMs: policy.queueWaitMs },
      health: { failureThreshold: policy.failureThreshold, coolDownMs: policy.coolDownMs },
      weightOf: (tenant) => weights.get(tenant) ?? 1,
      logger,
    });
    pool.seed(await store.countActiveByCredential(id));
    pools.set(id, pool);
    entries.set(id, { adapter: reg.adapter, emulated: reg.emulated });
  }
  metrics.watch({
    store,
    providers: [...registrations.keys()],
    credentials: () => poolCredentials(pools),
    onError: (err, what) => logger.warn({ err }, `metrics: ${what} unavailable`),
  });
  const models = new ModelRegistry(entries, config.aliases);
  const events = new TaskEvents();
  // Raised by the task writer, heard by the poller and the webhook dispatcher.
  const due = createDueSignals();
  const media = new MediaHost({ store, publicUrl: config.publicUrl });
  const outbound = deps.outbound ?? createOutbound({ allowlist: config.outboundAllowlist });
  const tasks = new TaskService({
    store,
    models,
    pools,
    events,
    polling: config.polling,
    // Per credential: its own polls_per_second, else its provider's, else POLL_BUDGET_PER_SECOND.
    pollBudget: new PollBudget(
      (provider, credentialId) =>
        pools.get(provider)?.byId(credentialId)?.pollsPerSecond ??
        settingsIn(config.providers, provider)?.pollsPerSecond ??
        config.polling.budgetPerSecond,
    ),
    logger,
    due,
    metrics,
    publishMedia: config.publicUrl ? media.publish : undefined,
    // Upstream webhooks are asked for only when genway knows its own public URL.
    callbackUrl: callbackUrlUnder(config.publicUrl),
    checkWebhookUrl: config.webhookSecret ? callerUrlCheck(outbound, 'webhook.url') : undefined,
    idempotency: config.idempotency,
    fallbacks: config.fallbacks,
  });
  const fetcher = new UndiciOutputFetcher();
  const outputs = new OutputService({ tasks, models, fetcher });
  const mediaPurge = setInterval(() => {
    media.purge().catch((err: unknown) => logger.warn({ err }, 'media purge failed'));
  }, MEDIA_PURGE_EVERY_MS).unref();
  const poller =
    deps.poller !== false ? new Poller(store, tasks, logger, { due: due.polls }) : undefined;
  // Client webhook delivery: only with WEBHOOK_SECRET, unless the test turned it off.
  const { attemptTimeoutMs, ...webhookOptions } = deps.webhooks || {};
  const dispatcher =
    config.webhookSecret && deps.webhooks !== false
      ? new WebhookDispatcher(
          store,
          createWebhookSender(outbound, {
            secret: config.webhookSecret,
            timeoutMs: attemptTimeoutMs,
          }),
          logger,
          { metrics, due: due.webhooks, ...config.webhookDelivery, ...webhookOptions },
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
    callbacks,
    registry,
    start() {
      poller?.start();
      dispatcher?.start();
    },
    async close() {
      for (const pool of pools.values()) pool.close();
      await poller?.stop();
      await dispatcher?.stop();
      clearInterval(mediaPurge);
      await fetcher.close();
      if (!deps.outbound) await outbound.close();
      await Promise.all([...registrations.values()].map((r) => r.adapter.close?.()));
      await store.close();
    },
  };
}
