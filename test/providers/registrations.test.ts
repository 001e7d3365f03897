import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { buildProviders } from '../../src/providers/registrations.js';
import { PROVIDERS } from '../../src/providers/registry.js';

const config = loadConfig({
  GATEWAY_API_KEYS: 'gw_registrations_0123456789',
  MODELSLAB_API_KEYS: 'ml-key',
  MODELSLAB_LOAD_BALANCER: 'false',
  REPLICATE_API_TOKEN: 'r8_token',
  REPLICATE_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  PIXVERSE_API_KEY: 'px-key',
  PIXVERSE_WEBHOOK_ID: '1234',
  PIXVERSE_WEBHOOK_SECRET: 'pixverse-webhook-secret',
  HAIPER_ACCESS_KEY: 'hp-key',
  HAIPER_ENDPOINT_PATH: 'haiper-video',
});
const registered = buildProviders(config);
afterAll(() => Promise.all([...registered.values()].map((r) => r.adapter.close?.())));

describe('buildProviders', () => {
  it('registers every configured provider of the registry, in its order, as its module says', () => {
    expect([...registered.keys()]).toEqual(PROVIDERS.map((p) => p.id));
    for (const provider of PROVIDERS) {
      const registration = registered.get(provider.id);
      expect(registration?.adapter.id).toBe(provider.id);
      expect(registration?.defaultMaxInFlight).toBe(provider.defaultMaxInFlight);
      expect(registration?.emulated).toBe(false);
    }
    // MODELSLAB_LOAD_BALANCER=false: genway spreads the tasks itself.
    expect(registered.get('modelslab')?.strategy).toBe('fewest-in-flight');
  });

  it("gives each provider's callback route the routing of its adapter's callbacks", () => {
    for (const provider of PROVIDERS) {
      const callbacks = registered.get(provider.id)?.adapter.callbacks;
      expect(provider.callbackRoute?.routing, provider.id).toBe(callbacks?.routing);
    }
  });

  it('leaves out what is not configured', () => {
    expect(buildProviders(loadConfig({})).size).toBe(0);
  });
});
