import type { Config, Credential } from '../config/config.js';
import type { CredentialStrategy } from '../domain/credential-pool.js';
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
  const { replicate } = config.providers;
  if (replicate) {
    out.set('replicate', {
      // Replicate echoes `input` in every answer, data: URIs included (up to ~10 MB each).
      adapter: new ReplicateAdapter(
        replicate,
        new UpstreamClient({ provider: 'replicate', maxBodyBytes: 32 * 1024 * 1024 }),
      ),
      credentials: replicate.credentials,
      strategy: 'fewest-in-flight',
      emulated: replicate.emulated,
    });
  }
  const { haiper } = config.providers;
  if (haiper) {
    out.set('haiper', {
      adapter: new HaiperAdapter(haiper, new UpstreamClient({ provider: 'haiper' })),
      credentials: haiper.credentials,
      strategy: 'fewest-in-flight',
      emulated: haiper.emulated,
    });
  }
  const { pixverse } = config.providers;
  if (pixverse) {
    out.set('pixverse', {
      adapter: new PixverseAdapter(pixverse, new UpstreamClient({ provider: 'pixverse' })),
      credentials: pixverse.credentials,
      strategy: 'fewest-in-flight',
      emulated: pixverse.emulated,
    });
  }
  return out;
}
