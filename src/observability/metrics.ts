import type { CopyOutcome } from '../domain/output-copies.js';
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import { TASK_STATUSES, type TaskStatus } from '../contracts/common.js';
import type { CircuitState } from '../domain/credential-health.js';
import type { CredentialPool } from '../domain/credential-pool.js';
import type {
  DomainMetrics,
  PollOutcome,
  UpstreamMetrics,
  UpstreamOperation,
  UpstreamOutcome,
  WebhookDeliveryOutcome,
} from '../domain/metrics.js';
import type { TaskStore } from '../domain/task-store.js';
import {
  CellCounter,
  CellHistogram,
  type CounterCell,
  type HistogramCell,
} from './cell-metrics.js';

/** One configured credential as `/metrics` shows it: its id, never its secret. */
export interface CredentialView {
  provider: string;
  /** The operator-chosen credential id (`<provider>-1` for a key from the environment). */
  credential: string;
  /** Its current state, one of a small fixed set (see CREDENTIAL_STATES). */
  state: string;
  /** Unfinished tasks created with it. */
  inFlight: number;
}

/**
 * States every credential reports, 1 for the current one and 0 for the others: its circuit
 * breaker (domain/credential-health.ts). A state outside this list is reported when current.
 */
export const CREDENTIAL_STATES: readonly CircuitState[] = ['closed', 'open', 'half_open'];

export interface MetricsSources {
  store: Pick<TaskStore, 'countByStatus' | 'countPendingWebhooks'>;
  /** Configured providers: their task and poll series exist (at 0) before any traffic. */
  providers: readonly string[];
  credentials: () => Iterable<CredentialView>;
  /**
   * How long a store count is reused by later scrapes (METRICS_CACHE_MS): counting scans the
   * store, and a scraper (or anyone, without METRICS_TOKEN) may ask often. 0: every scrape.
   */
  cacheMs?: number;
  /** A store query failed during a scrape (the scrape still answers, without that gauge). */
  onError?: (err: unknown, what: string) => void;
}

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const UPSTREAM_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const POLL_OUTCOMES: readonly PollOutcome[] = ['ok', 'retry', 'failed', 'skipped'];
const WEBHOOK_OUTCOMES: readonly WebhookDeliveryOutcome[] = ['delivered', 'retry', 'failed'];
/** Methods Fastify can route; anything else an unmatched request used counts as `other`. */
const METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
]);
export const UNMATCHED_ROUTE = 'unmatched';

let processRegistry: Registry | undefined;

/**
 * Process metrics (CPU, memory, event loop, GC, handles) belong to the process, not to an
 * app: collected once into a registry of their own and added to every app's registry.
 * (prom-client cannot stop them once started, so one set per app would leak an event-loop
 * monitor and a GC observer for every app a test suite builds.)
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'genway_' });
  }
  return processRegistry;
}

interface HttpSeries {
  duration: HistogramCell;
  byStatus: Map<number, CounterCell>;
}

/**
 * The `genway_*` series of one app, in a registry of its own (never prom-client's global
 * one: tests build many apps in one process). Label values only ever come from fixed sets:
 * route patterns, methods, status codes, provider ids, the outcome enums, configured
 * credential ids.
 */
export class GatewayMetrics implements DomainMetrics, UpstreamMetrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  private readonly httpRequests = new CellCounter({
    name: 'genway_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  private readonly httpDuration = new CellHistogram({
    name: 'genway_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (long polls included), by route pattern and method',
    labelNames: ['route', 'method'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });
  private readonly upstreamRequests = new CellCounter({
    name: 'genway_upstream_requests_total',
    help: 'Calls to upstream providers, by provider, operation and outcome',
    labelNames: ['provider', 'operation', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly chargedUsd = new Counter({
    name: 'genway_charged_usd_total',
    help: "USD charged for finished tasks, by provider and the operator's price entry model (an exact id or provider/*)",
    labelNames: ['provider', 'model'] as const,
    registers: [this.registry],
  });
  private readonly upstreamDuration = new CellHistogram({
    name: 'genway_upstream_request_duration_seconds',
    help: 'Time from sending an upstream call until its answer was read',
    labelNames: ['provider', 'operation'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers: [this.registry],
  });
  private readonly transitions = new CellCounter({
    name: 'genway_task_transitions_total',
    help: 'Tasks entering a status (queued on create), by provider and the status entered',
    labelNames: ['provider', 'status'] as const,
    registers: [this.registry],
  });
  private readonly polls = new Counter({
    name: 'genway_polls_total',
    help: 'Upstream polls of tasks, by provider and outcome (ok, retry, failed, skipped)',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly webhookDeliveries = new Counter({
    name: 'genway_webhook_deliveries_total',
    help: 'Webhook delivery attempts to clients, by outcome (delivered, retry, failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly storeResets = new Counter({
    name: 'genway_store_resets_total',
    help: 'Times this instance found the Redis store had lost its data (epoch key gone)',
    registers: [this.registry],
  });

  private readonly mediaCopies = new Counter({
    name: 'genway_media_copies_total',
    help: 'Output copies into media storage, by outcome (stored, retry, failed: kept the upstream link)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly mediaStoredBytes = new Counter({
    name: 'genway_media_stored_bytes_total',
    help: 'Bytes of outputs copied into media storage',
    registers: [this.registry],
  });
  private readonly mediaPurged = new Counter({
    name: 'genway_media_purged_objects_total',
    help: 'Stored outputs deleted at the end of retention',
    registers: [this.registry],
  });

  private readonly tasks: Gauge<'provider' | 'status'> = new Gauge({
    name: 'genway_tasks',
    help: 'Tasks in the store, by provider and status (read from the store at scrape time)',
    labelNames: ['provider', 'status'] as const,
    registers: [this.registry],
    collect: () => this.collectTasks(),
  });
  private readonly webhookBacklog: Gauge = new Gauge({
    name: 'genway_webhook_backlog',
    help: 'Webhook deliveries waiting to be delivered (pending, retries included)',
    registers: [this.registry],
    collect: () => this.collectBacklog(),
  });
  private readonly credentialState: Gauge<'provider' | 'credential' | 'state'> = new Gauge({
    name: 'genway_credential_state',
    help: 'State of each configured credential: 1 for its current state, 0 for the others',
    labelNames: ['provider', 'credential', 'state'] as const,
    registers: [this.registry],
    collect: () => this.collectCredentials(),
  });
  private readonly credentialInFlight: Gauge<'provider' | 'credential'> = new Gauge({
    name: 'genway_credential_in_flight',
    help: 'Unfinished tasks per configured credential',
    labelNames: ['provider', 'credential'] as const,
    registers: [this.registry],
    collect: () => this.collectInFlight(),
  });

  private sources: MetricsSources | undefined;
  private readonly http = new Map<string, Map<string, HttpSeries>>();

  constructor() {
    for (const outcome of WEBHOOK_OUTCOMES) this.webhookDeliveries.labels(outcome).inc(0);
    for (const outcome of ['stored', 'retry', 'failed'] as const) {
      this.mediaCopies.labels(outcome).inc(0);
    }
    for (const metric of processMetrics().getMetricsAsArray()) {
      this.registry.registerMetric(metric as unknown as Metric);
    }
  }

  /** Where scrape-time gauges read from; set once the store and credentials exist. */
  watch(sources: MetricsSources): void {
    this.sources = sources;
    for (const provider of sources.providers) {
      for (const outcome of POLL_OUTCOMES) this.polls.labels(provider, outcome).inc(0);
      for (const status of TASK_STATUSES) this.transitions.cell(provider, status);
    }
  }

  /**
   * One answered HTTP request. `route` is the matched route pattern (`/v1/tasks/:id`), or
   * undefined when no route matched. After the first request of a route/method/status, this
   * is three map lookups and two increments: no allocation.
   */
  httpRequest(route: string | undefined, method: string, status: number, seconds: number): void {
    const routeKey = route ?? UNMATCHED_ROUTE;
    const methodKey = METHODS.has(method) ? method : 'other';
    let byMethod = this.http.get(routeKey);
    if (!byMethod) {
      byMethod = new Map();
      this.http.set(routeKey, byMethod);
    }
    let series = byMethod.get(methodKey);
    if (!series) {
      series = { duration: this.httpDuration.cell(routeKey, methodKey), byStatus: new Map() };
      byMethod.set(methodKey, series);
    }
    let counter = series.byStatus.get(status);
    if (!counter) {
      counter = this.httpRequests.cell(routeKey, methodKey, String(status));
      series.byStatus.set(status, counter);
    }
    counter.inc();
    series.duration.observe(seconds);
  }

  upstreamCall(
    provider: string,
    operation: UpstreamOperation,
    outcome: UpstreamOutcome,
    seconds: number,
  ): void {
    this.upstreamRequests.cell(provider, operation, outcome).inc();
    this.upstreamDuration.cell(provider, operation).observe(seconds);
  }

  /** A finished task was charged `usd`; `model` is its price entry's (operator-chosen) model. */
  charged(provider: string, model: string, usd: number): void {
    this.chargedUsd.labels(provider, model).inc(usd);
  }

  taskChanged(provider: string, _from: TaskStatus | null, to: TaskStatus): void {
    this.transitions.cell(provider, to).inc();
  }

  /** Redis lost its data (cluster mode): see store/redis/server-checks.ts. */
  storeReset(): void {
    this.storeResets.inc();
  }

  pollDone(provider: string, outcome: PollOutcome): void {
    this.polls.labels(provider, outcome).inc();
  }

  webhookDelivery(outcome: WebhookDeliveryOutcome): void {
    this.webhookDeliveries.labels(outcome).inc();
  }

  mediaCopy(outcome: CopyOutcome, bytes: number): void {
    this.mediaCopies.labels(outcome).inc();
    if (bytes > 0) this.mediaStoredBytes.inc(bytes);
  }

  mediaPurgedObjects(count: number): void {
    this.mediaPurged.inc(count);
  }

  private readonly cache = new Map<string, { at: number; value: Promise<unknown> }>();

  /** `query`'s answer, shared by scrapes within `cacheMs`; a failure is not kept. */
  private cached<T>(key: string, query: () => Promise<T>): Promise<T> {
    const ttl = this.sources?.cacheMs ?? 0;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (ttl > 0 && hit && now - hit.at < ttl) return hit.value as Promise<T>;
    const value = query();
    if (ttl > 0) {
      this.cache.set(key, { at: now, value });
      value.catch(() => this.cache.delete(key));
    }
    return value;
  }

  private async collectTasks(): Promise<void> {
    const gauge = this.tasks;
    gauge.reset();
    const sources = this.sources;
    if (!sources?.store.countByStatus) return;
    for (const provider of sources.providers) {
      for (const status of TASK_STATUSES) gauge.labels(provider, status).set(0);
    }
    try {
      const store = sources.store;
      for (const row of await this.cached('tasks', () => store.countByStatus!())) {
        gauge.labels(row.provider, row.status).set(row.count);
      }
    } catch (err) {
      gauge.reset();
      sources.onError?.(err, 'genway_tasks');
    }
  }

  private async collectBacklog(): Promise<void> {
    this.webhookBacklog.reset();
    const sources = this.sources;
    if (!sources?.store.countPendingWebhooks) return;
    try {
      const store = sources.store;
      this.webhookBacklog.set(await this.cached('backlog', () => store.countPendingWebhooks!()));
    } catch (err) {
      sources.onError?.(err, 'genway_webhook_backlog');
    }
  }

  private collectCredentials(): void {
    this.credentialState.reset();
    for (const c of this.sources?.credentials() ?? []) {
      for (const state of CREDENTIAL_STATES) {
        this.credentialState.labels(c.provider, c.credential, state).set(state === c.state ? 1 : 0);
      }
      if (!(CREDENTIAL_STATES as readonly string[]).includes(c.state)) {
        this.credentialState.labels(c.provider, c.credential, c.state).set(1);
      }
    }
  }

  private collectInFlight(): void {
    this.credentialInFlight.reset();
    for (const c of this.sources?.credentials() ?? []) {
      this.credentialInFlight.labels(c.provider, c.credential).set(c.inFlight);
    }
  }

  /** The Prometheus text exposition of every series (version 0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Every configured credential of every provider, with its circuit state and in-flight count. */
export function* poolCredentials(
  pools: ReadonlyMap<string, Pick<CredentialPool, 'status'>>,
): Generator<CredentialView> {
  for (const [provider, pool] of pools) {
    for (const c of pool.status()) {
      yield { provider, credential: c.id, state: c.state, inFlight: c.in_flight };
    }
  }
}
