import type { Config, Credential } from '../config/config.js';
import type { CredentialStrategy } from '../domain/credential-pool.js';
import type { UpstreamMetrics } from '../domain/metrics.js';
import type { ProviderAdapter } from '../domain/ports.js';
import { HaiperAdapter } from './haiper/adapter.js';
import { UpstreamClient } from './http-client.js';
import { ModelslabAdapter } from './modelslab/adapter.js';
import { PixverseAdapter } from './pixverse/adapter.js';
import { ReplicateAdapter } from './replicate/adapter.js';

export interface ProviderRegistration {
  adapter: ProviderAdapter;
  credentials: Credential[];
  strategy: CredentialStrategy;
  /**
   * Jobs in flight per credential unless the credential sets `max_in_flight` (file) or
   * <PROVIDER>_MAX_IN_FLIGHT (env credentials): see DEFAULT_MAX_IN_FLIGHT.
   */
  defaultMaxInFlight?: number;
  emulated: boolean;
}

/**
 * Default in-flight caps per credential, from the providers' documented limits
 * (shared/reference/providers.md): beyond them the upstream refuses new jobs, so genway queues
 * or refuses the create itself (429 before any upstream call) instead.
 * - ModelsLab: 5 queued requests per account on pay-as-you-go (10 Standard, 15 Premium), §1
 *   "Limits are queue-based" [M3 rate-limits.mdx]. Raise it per credential for bigger plans.
 * - PixVerse: a per-plan concurrency cap (ErrCode 500044), numbers undocumented; a third party
 *   says 5 on the Essential API plan, §3 [P2][P8].
 * - Haiper: 40 concurrent generations per user, §4 [H3 rate-limits] (Cloudsway: undocumented).
 * - Replicate: no concurrency cap, but 600 creates per minute, §2 [R8]; 100 in flight keeps a
 *   gateway well inside that.
 */
export const DEFAULT_MAX_IN_FLIGHT = { modelslab: 5, pixverse: 5, haiper: 40, replicate: 100 };

/** One line per provider: its adapter, credentials and how they are shared out. */
export function buildProviders(
  config: Config,
  options: { metrics?: UpstreamMetrics } = {},
): Map<string, ProviderRegistration> {
  const { metrics } = options;
  // Headers and body timeout of every upstream call (UPSTREAM_TIMEOUT_MS).
  const timeoutMs = config.upstreamTimeoutMs;
  const out = new Map<string, ProviderRegistration>();
  const { modelslab } = config.providers;
  if (modelslab) {
    out.set('modelslab', {
      adapter: new ModelslabAdapter(
        modelslab,
        new UpstreamClient({ provider: 'modelslab', timeoutMs, metrics }),
      ),
      credentials: modelslab.credentials,
      strategy: modelslab.loadBalancer ? 'first' : 'fewest-in-flight',
      defaultMaxInFlight: DEFAULT_MAX_IN_FLIGHT.modelslab,
      emulated: modelslab.emulated,
    });
  }
  const { replicate } = config.providers;
  if (replicate) {
    out.set('replicate', {
      // Replicate echoes `input` in every answer, data: URIs included (up to ~10 MB each).
      adapter: new ReplicateAdapter(
        replicate,
        new UpstreamClient({
          provider: 'replicate',
          timeoutMs,
          maxBodyBytes: 32 * 1024 * 1024,
          metrics,
        }),
      ),
      credentials: replicate.credentials,
      strategy: 'fewest-in-flight',
      defaultMaxInFlight: DEFAULT_MAX_IN_FLIGHT.replicate,
      emulated: replicate.emulated,
    });
  }
  const { haiper } = config.providers;
  if (haiper) {
    out.set('haiper', {
      adapter: new HaiperAdapter(
        haiper,
        new UpstreamClient({ provider: 'haiper', timeoutMs, metrics }),
      ),
      credentials: haiper.credentials,
      strategy: 'fewest-in-flight',
      defaultMaxInFlight: DEFAULT_MAX_IN_FLIGHT.haiper,
      emulated: haiper.emulated,
    });
  }
  const { pixverse } = config.providers;
  if (pixverse) {
    out.set('pixverse', {
      adapter: new PixverseAdapter(
        pixverse,
        new UpstreamClient({ provider: 'pixverse', timeoutMs, metrics }),
      ),
      credentials: pixverse.credentials,
      strategy: 'fewest-in-flight',
      defaultMaxInFlight: DEFAULT_MAX_IN_FLIGHT.pixverse,
      emulated: pixverse.emulated,
    });
  }
  return out;
}
