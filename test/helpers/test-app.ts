import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.js';
import type { Config, ProvidersConfig } from '../../src/config/config.js';
import { loadConfig, secretsOf } from '../../src/config/load.js';
import type { ProviderModule } from '../../src/providers/provider-module.js';
import { SecretScan, onFlush, type LabelledSecret } from './secret-scan.js';
import { testOutbound } from './test-dns.js';

/** Gateway keys of two tenants (long enough for the config's 16-character rule). */
export const KEY_A = 'gw_test_tenant_a_0123456789abcdef';
export const KEY_B = 'gw_test_tenant_b_0123456789abcdef';

export const auth = (key = KEY_A) => ({ authorization: `Bearer ${key}` });

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  /** Every log line the app wrote, raw JSON text. */
  logs: string[];
  /** Every configured secret (upstream keys, gateway keys, webhook secret). */
  secrets: string[];
  /**
   * Where a configured secret showed up so far (responses, log lines): descriptions only.
   * `close()` fails with them (after scraping /metrics); so does the end of the test file.
   */
  leaks(): string[];
  close(): Promise<void>;
}

export interface TestAppOptions extends Omit<AppDeps, 'logStream' | 'providers'> {
  env?: Record<string, string>;
  /** Provider settings pointing at emulators; replaces whatever the env configured. */
  providers?: ProvidersConfig;
}

/**
 * The real app, not listening (use `app.inject`), with an in-memory store, fast polling, two
 * tenants, and its log lines captured for secret scans.
 */
export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const { env, providers, ...deps } = options;
  const base = loadConfig(
    {
      GATEWAY_API_KEYS: `${KEY_A},${KEY_B}`,
      STORE_URL: 'memory:',
      POLL_INTERVAL_MS: '20',
      POLL_MAX_INTERVAL_MS: '200',
      // Tests poll every 20 ms: the production default (10 polls/s per credential) would slow
      // them; tests of the budget set it per credential.
      POLL_BUDGET_PER_SECOND: '1000',
      // Per-tenant rate limits and credential cool-downs stay out of tests that do not ask for
      // them (test/limits/ does): many tests share one app and fail a credential on purpose.
      RATE_LIMIT_MAX: '0',
      CREDENTIAL_COOLDOWN_MS: '0',
      // Scrapes see each change at once (test/metrics/ asks for the cache where it tests it).
      METRICS_CACHE_MS: '0',
      LOG_LEVEL: 'info',
      // Upstream links as before (test/media/ turns media storage on explicitly).
      MEDIA_STORE_URL: 'none',
      ...env,
    },
    deps.registry,
  );
  const config: Config = providers ? { ...base, providers, useEmulators: false } : base;
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  // Hostnames resolve through the test resolver: the suite never asks real DNS.
  const outbound = deps.outbound ?? testOutbound(config.outboundAllowlist);
  const app = await buildApp(config, { ...deps, outbound, logStream });
  if (!deps.outbound) app.addHook('onClose', () => outbound.close());
  const scan = watchSecrets(app, config, logs, deps.registry);
  await app.ready();
  return {
    app,
    config,
    logs,
    secrets: secretsOf(config, deps.registry),
    leaks: () => scan.leaks(),
    close: async () => {
      await scan.flush();
      await app.close();
      scan.flushLogs();
      scan.assertClean();
    },
  };
}

/** Configured secrets with what they are, for leak reports that never print the value. */
function labelledSecrets(config: Config, registry?: readonly ProviderModule[]): LabelledSecret[] {
  const out: LabelledSecret[] = [];
  for (const [provider, settings] of Object.entries(config.providers)) {
    for (const c of settings?.credentials ?? []) {
      out.push({ label: `${provider} upstream key (credential ${c.id})`, value: c.secret });
    }
  }
  for (const t of config.tenants) {
    for (const k of t.keys) out.push({ label: `gateway key of tenant ${t.id}`, value: k });
  }
  if (config.webhookSecret) out.push({ label: 'WEBHOOK_SECRET', value: config.webhookSecret });
  for (const t of config.tenants) {
    if (t.webhookSecret) {
      out.push({ label: `webhook signing secret of tenant ${t.id}`, value: t.webhookSecret });
    }
  }
  // Whatever else the app treats as secret (metrics token, ...); the dev key is public.
  for (const value of secretsOf(config, registry))
    out.push({ label: 'a configured secret', value });
  return out;
}

/** The answer that shows a key created through the admin API (the only place it may appear). */
const ISSUED_KEY_ANSWER = /^response to POST \/admin\/tenants\/[^/]+\/keys \(201\)$/;

function issuedKeyIn(body: string): string | undefined {
  try {
    const key = (JSON.parse(body) as { key?: unknown }).key;
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The suite-wide secret scan of one test app: every response (an onSend hook, so listening
 * servers are covered too, plus `inject`'s own answers for router-level errors that skip the
 * hooks), every log line and, when the app has it, a scrape of GET /metrics.
 */
function watchSecrets(
  app: FastifyInstance,
  config: Config,
  logs: string[],
  registry?: readonly ProviderModule[],
) {
  const scan = new SecretScan('the test app', labelledSecrets(config, registry));
  const where = (method: string, url: string, status: number) =>
    `response to ${method} ${url.split('?')[0]} (${status})`;
  /**
   * Routes that answer the caller tenant its own webhook signing secret (by design): that one
   * secret, and no other, may appear in their answer. By request id, for inject's own check.
   */
  const disclosed = new Map<string, string>();
  const checkResponse = (
    name: string,
    headers: Record<string, unknown>,
    body: string | Buffer | undefined,
  ) => {
    const own = disclosed.get(String(headers['x-request-id']));
    const text = typeof body === 'string' || Buffer.isBuffer(body) ? String(body) : undefined;
    scan.check(`${name} headers`, JSON.stringify(headers));
    if (text === undefined) return;
    // A new gateway key is shown once, in the answer that creates it: searched for from then on.
    const issued = ISSUED_KEY_ANSWER.test(name) ? issuedKeyIn(text) : undefined;
    let checked = issued ? text.split(issued).join('<issued key>') : text;
    if (own) checked = checked.split(own).join('');
    scan.check(`${name} body`, checked);
    if (issued) scan.add({ label: 'a gateway key created through the admin API', value: issued });
  };
  app.addHook('onSend', async (request, reply, payload) => {
    const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : undefined;
    if (request.routeOptions.config?.disclosesTenantWebhookSecret) {
      const tenant = (request as unknown as { tenant?: string }).tenant;
      const own = config.tenants.find((t) => t.id === tenant)?.webhookSecret;
      if (own) disclosed.set(request.id, own);
    }
    checkResponse(where(request.method, request.url, reply.statusCode), reply.getHeaders(), body);
    return payload;
  });
  const inject = app.inject.bind(app) as (opts: unknown, cb?: unknown) => unknown;
  (app as unknown as { inject: unknown }).inject = (opts?: unknown, cb?: unknown) => {
    const answer = inject(opts, cb);
    if (opts === undefined || cb !== undefined || !(answer instanceof Promise)) return answer;
    const o = (typeof opts === 'string' ? { url: opts } : opts) as InjectOptions;
    return answer.then((res: LightMyRequestResponse) => {
      const name = where(o.method ?? 'GET', String(o.url ?? ''), res.statusCode);
      checkResponse(name, res.headers, res.body);
      return res;
    });
  };
  let scannedLogs = 0;
  const flushLogs = () => {
    for (; scannedLogs < logs.length; scannedLogs++) {
      scan.check(`log line ${scannedLogs + 1}`, logs[scannedLogs]);
    }
  };
  let scraped = false;
  const flush = async () => {
    flushLogs();
    if (scraped || !app.hasRoute({ method: 'GET', url: '/metrics' })) return;
    scraped = true;
    const headers = config.metricsToken ? { authorization: `Bearer ${config.metricsToken}` } : {};
    try {
      const scrape = { method: 'GET', url: '/metrics', headers };
      const res = (await inject(scrape)) as LightMyRequestResponse;
      checkResponse('a scrape of GET /metrics', res.headers, res.body);
    } catch {
      // An app that is already closed has nothing left to scrape.
    }
  };
  onFlush(scan, flush);
  return {
    leaks: () => (flushLogs(), scan.leaks()),
    flush,
    flushLogs,
    assertClean: () => scan.assertClean(),
  };
}

/** Polls `GET /v1/tasks/:id` (long-poll) until the task is terminal or `timeoutMs` passes. */
export async function waitForTerminal(
  app: FastifyInstance,
  id: string,
  key = KEY_A,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.inject({
      method: 'GET',
      url: `/v1/tasks/${id}?wait=2`,
      headers: auth(key),
    });
    const task = res.json() as Record<string, unknown>;
    if (['succeeded', 'failed', 'canceled'].includes(task.status as string)) return task;
    if (Date.now() > deadline)
      throw new Error(`task ${id} still ${String(task.status)} after ${timeoutMs} ms`);
  }
}

/** Asserts that none of `secrets` occurs in any of `texts`; returns the offending snippets. */
export function findSecrets(texts: Iterable<string>, secrets: readonly string[]): string[] {
  const hits: string[] = [];
  for (const text of texts) {
    for (const s of secrets) {
      const at = text.indexOf(s);
      if (s && at !== -1) hits.push(`…${text.slice(Math.max(0, at - 40), at)}<SECRET>…`);
    }
  }
  return hits;
}
