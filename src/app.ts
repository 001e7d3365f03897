import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import pino, { type DestinationStream } from 'pino';
import type { Config } from './config/config.js';
import { secretsOf } from './config/load.js';
import { CredentialPool } from './domain/credential-pool.js';
import { createDueSignals } from './domain/due-signal.js';
import { MediaHost, MEDIA_PURGE_EVERY_MS } from './domain/media-host.js';
import { ModelRegistry, type ProviderEntry } from './domain/models.js';
import { OutputService } from './domain/output-service.js';
import { Poller } from './domain/poller.js';
import { PollBudget } from './domain/poll-budget.js';
import { WebhookDispatcher, type WebhookDispatcherOptions } from './domain/webhook-dispatcher.js';
import { TaskEvents } from './domain/task-events.js';
import { TaskService } from './domain/task-service.js';
import { GatewayKeys } from './http/auth.js';
import { registerOpenApi } from './http/openapi.js';
import { sendOpenAIError } from './http/openai/errors.js';
import { openaiSurface } from './http/openai/index.js';
import { OPENAI_PREFIX } from './http/openai/mapping.js';
import { sendReplicateProblem } from './http/replicate/errors.js';
import { replicateSurface } from './http/replicate/index.js';
import { SURFACE_PREFIX as REPLICATE_PREFIX } from './http/replicate/prediction.js';
import { registerErrorHandling, sendProblem, toGatewayError } from './http/problem.js';
import { MAX_JSON_DEPTH, nestedDeeperThan, tooDeeplyNested } from './http/json-depth.js';
import type { GatewayApp, RouteDeps } from './http/route-deps.js';
import { healthRoutes } from './http/routes/ops/health.js';
import { adminCredentialsRoute } from './http/routes/ops/admin-credentials.js';
import { registerTenantRateLimit } from './http/rate-limit.js';
import { metricsRoute } from './http/routes/ops/metrics.js';
import { getMediaRoute } from './http/routes/media/get-media.js';
import { callbackRoutes } from './http/routes/callbacks/index.js';
import { UpstreamCallbackService } from './domain/upstream-callbacks.js';
import { cancelTaskRoute } from './http/routes/v1/cancel-task.js';
import { getTaskRoute } from './http/routes/v1/get-task.js';
import { taskEventsRoute } from './http/routes/v1/task-events.js';
import { getTaskOutputRoute } from './http/routes/v1/get-task-output.js';
import { listModelsRoute } from './http/routes/v1/list-models.js';
import { listTasksRoute } from './http/routes/v1/list-tasks.js';
import { textToImageRoute } from './http/routes/v1/text-to-image.js';
import { textToVideoRoute } from './http/routes/v1/text-to-video.js';
import { imageToVideoRoute } from './http/routes/v1/image-to-video.js';
import { videoUpscaleRoute } from './http/routes/v1/video-upscale.js';
import { videoExtendRoute } from './http/routes/v1/video-extend.js';
import { loggerOptions, scrubbingDestination } from './logging.js';
import { GatewayMetrics, poolCredentials } from './observability/metrics.js';
import { UndiciOutputFetcher } from './providers/output-fetcher.js';
import { buildProviders, type ProviderRegistration } from './providers/registry.js';
import { createTaskStore, type TaskStore } from './store/index.js';
import { createOutbound, type Outbound } from './net/outbound.js';
import { callerUrlCheck } from './net/url-check.js';
import { createWebhookSender } from './net/webhook-sender.js';

export interface AppDeps {
  store?: TaskStore;
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: DestinationStream;
  providers?: Map<string, ProviderRegistration>;
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

/** Wires config, store, adapters, domain and routes. Does not listen: server.ts does. */
export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const logger = pino(
    loggerOptions(config.logLevel),
    scrubbingDestination(secretsOf(config), deps.logStream),
  );
  // One registry per app (never prom-client's global one): GET /metrics.
  const metrics = new GatewayMetrics();
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.limits.bodyLimitBytes,
    genReqId: () => `req_${randomUUID().replaceAll('-', '')}`,
    // One line per request, written in onResponse below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 200 },
    // Router-level errors (undecodable URL, over-long path parameter) skip the error handler
    // and the hooks: answer them as problem+json too, with the request id.
    frameworkErrors: (error, request, reply) => {
      // The onResponse hook never sees these: counted here, as route "unmatched".
      reply.raw.once('finish', () =>
        metrics.httpRequest(undefined, request.method, reply.statusCode, reply.elapsedTime / 1000),
      );
      return request.url.startsWith(`${OPENAI_PREFIX}/`)
        ? sendOpenAIError(reply.header('x-request-id', request.id), toGatewayError(error))
        : request.url.startsWith(`${REPLICATE_PREFIX}/`)
          ? sendReplicateProblem(reply.header('x-request-id', request.id), toGatewayError(error))
          : sendProblem(reply.header('x-request-id', request.id), toGatewayError(error));
    },
  }).withTypeProvider<ZodTypeProvider>() as unknown as GatewayApp;

  app.setValidatorCompiler(validatorCompiler);
  // Responses are built from typed domain objects; plain JSON.stringify keeps reads fast.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerErrorHandling(app);
  registerJsonParser(app);

  // Answers finished while shutting down close their connection, so a keep-alive client
  // cannot hold the process open after its in-flight request was served.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    // A getter that builds a new object on every read: read once. No url: no route matched.
    const route = request.routeOptions;
    metrics.httpRequest(route.url, request.method, reply.statusCode, reply.elapsedTime / 1000);
    request.log.info(
      {
        method: request.method,
        url: route.config?.logRouteOnly ? route.url : request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request',
    );
  });

  const store = deps.store ?? createTaskStore(config.storeUrl);
  const registrations = deps.providers ?? buildProviders(config, { metrics });
  const pools = new Map<string, CredentialPool>();
  const entries = new Map<string, ProviderEntry>();
  for (const [id, reg] of registrations) {
    const policy = config.credentialPolicy;
    const pool = new CredentialPool(id, reg.credentials, reg.strategy, {
      defaultMaxInFlight: reg.defaultMaxInFlight,
      ...(policy
        ? {
            queue: { max: policy.queueMax, waitMs: policy.queueWaitMs },
            health: { failureThreshold: policy.failureThreshold, coolDownMs: policy.coolDownMs },
          }
        : {}),
      logger: app.log,
    });
    pool.seed(await store.countActiveByCredential(id));
    pools.set(id, pool);
    entries.set(id, { adapter: reg.adapter, emulated: reg.emulated });
  }
  metrics.watch({
    store,
    providers: [...registrations.keys()],
    credentials: () => poolCredentials(pools),
    onError: (err, what) => app.log.warn({ err }, `metrics: ${what} unavailable`),
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
        config.providers[provider as keyof typeof config.providers]?.pollsPerSecond ??
        config.polling.budgetPerSecond ??
        10,
    ),
    logger: app.log,
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
    media.purge().catch((err: unknown) => app.log.warn({ err }, 'media purge failed'));
  }, MEDIA_PURGE_EVERY_MS).unref();
  const poller =
    deps.poller !== false ? new Poller(store, tasks, app.log, { due: due.polls }) : undefined;
  if (poller) app.addHook('onReady', async () => poller.start());
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
          app.log,
          { metrics, due: due.webhooks, ...webhookOptions },
        )
      : undefined;
  if (dispatcher) app.addHook('onReady', async () => dispatcher.start());
  app.decorate('tasks', tasks);
  app.addHook('onClose', async () => {
    for (const pool of pools.values()) pool.close();
    await poller?.stop();
    await dispatcher?.stop();
    clearInterval(mediaPurge);
    await fetcher.close();
    if (!deps.outbound) await outbound.close();
    await Promise.all([...registrations.values()].map((r) => r.adapter.close?.()));
    await store.close();
  });

  // Before the routes and scopes: its hooks must reach them.
  await registerTenantRateLimit(app as unknown as FastifyInstance, config);
  await registerOpenApi(app as unknown as FastifyInstance);
  const routeDeps: RouteDeps = { config, tasks, models, store, outputs, media, pools };
  healthRoutes(app, routeDeps);
  adminCredentialsRoute(app, { pools, token: config.adminToken });
  metricsRoute(app, { metrics, token: config.metricsToken });
  getMediaRoute(app, routeDeps);
  await callbackRoutes(app, {
    callbacks: new UpstreamCallbackService({
      store,
      models,
      tasks,
      logger: app.log,
    }),
  });
  await app.register(async (v1) => {
    const keys = new GatewayKeys(config.tenants);
    v1.decorateRequest('tenant', '');
    v1.addHook('onRequest', async (request) => {
      request.tenant = keys.authenticate(request);
    });
    for (const route of [
      textToImageRoute,
      textToVideoRoute,
      imageToVideoRoute,
      videoUpscaleRoute,
      videoExtendRoute,
      getTaskRoute,
      taskEventsRoute,
      getTaskOutputRoute,
      cancelTaskRoute,
      listTasksRoute,
      listModelsRoute,
    ]) {
      route(v1, routeDeps);
    }
  });
  await replicateSurface(app, routeDeps);
  await openaiSurface(app, routeDeps);
  return app as unknown as FastifyInstance;
}

/** `{PUBLIC_URL}/callbacks/{provider}/{taskId}`: where upstreams call back (callback routes). */
function callbackUrlUnder(
  publicUrl: string | null | undefined,
): ((provider: string, taskId: string) => string) | undefined {
  if (!publicUrl) return undefined;
  return (provider, taskId) =>
    `${publicUrl}/callbacks/${encodeURIComponent(provider)}/${encodeURIComponent(taskId)}`;
}

/**
 * JSON parser that accepts an empty body (clients send `content-type: application/json`
 * with nothing on cancel) and keeps Fastify's prototype-poisoning protection.
 */
function registerJsonParser(app: GatewayApp): void {
  const defaultParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // Only JSON bodies: Fastify's default text/plain parser would turn a 415 into a 400.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === ''))
      return done(null, undefined);
    defaultParser(request, body as string, (err, parsed) => {
      if (err) return done(err);
      if (nestedDeeperThan(parsed, MAX_JSON_DEPTH)) return done(tooDeeplyNested());
      done(null, parsed);
    });
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    tasks: TaskService;
  }
}
