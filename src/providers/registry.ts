import type { Config, Credential } from '../config/config.js';
import type { CredentialStrategy } from '../domain/credential-pool.js';
import type { ProviderAdapter } from '../domain/ports.js';
import { UpstreamClient } from './http-client.js';
import { ModelslabAdapter } from './modelslab/adapter.js';

export interface ProviderRegistration {
  adapter: ProviderAdapter;
  credentials: Credential[];
  strategy: CredentialStrategy;
  emulated: boolean;
}

/** One line per provider: its adapter, credentials and how they are shared out. */
export function buildProviders(config: Config): Map<string, ProviderRegistration> {
  const out = new Map<string, ProviderRegistration>();
  const { modelslab } = config.providers;
  if (modelslab) {
    out.set('modelslab', {
      adapter: new ModelslabAdapter(modelslab, new UpstreamClient({ provider: 'modelslab' })),
      credentials: modelslab.credentials,
      strategy: modelslab.loadBalancer ? 'first' : 'fewest-in-flight',
      emulated: modelslab.emulated,
    });
  }
  return out;
}
