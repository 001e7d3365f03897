import type { Config } from '../config/config.js';
import type { CredentialStrategy } from '../domain/credential-pool.js';
import type { UpstreamMetrics } from '../domain/metrics.js';
import type { Credential, ProviderAdapter } from '../domain/ports.js';
import { UpstreamClient } from './http-client.js';
import { settingsIn, type ProviderModule } from './provider-module.js';
import { PROVIDERS } from './registry.js';

export interface ProviderRegistration {
  adapter: ProviderAdapter;
  credentials: Credential[];
  strategy: CredentialStrategy;
  /**
   * Jobs in flight per credential unless the credential sets `max_in_flight` (file) or its
   * provider's max-in-flight variable (env credentials): ProviderModule.defaultMaxInFlight.
   */
  defaultMaxInFlight?: number;
  emulated: boolean;
}

/** The adapter, credentials and sharing rule of every configured provider of `registry`. */
export function buildProviders(
  config: Config,
  options: { metrics?: UpstreamMetrics; registry?: readonly ProviderModule[] } = {},
): Map<string, ProviderRegistration> {
  const { metrics, registry = PROVIDERS } = options;
  const out = new Map<string, ProviderRegistration>();
  for (const provider of registry) {
    const settings = settingsIn(config.providers, provider.id);
    if (!settings) continue;
    const client = new UpstreamClient({
      provider: provider.id,
      // Headers and body timeout of every upstream call (UPSTREAM_TIMEOUT_MS).
      timeoutMs: config.upstreamTimeoutMs,
      metrics,
      ...provider.upstream,
    });
    out.set(provider.id, {
      adapter: provider.adapter(settings, client),
      credentials: settings.credentials,
      strategy: provider.credentialStrategy(settings),
      defaultMaxInFlight: provider.defaultMaxInFlight,
      emulated: settings.emulated,
    });
  }
  return out;
}
