import { z } from 'zod';
import { httpUrl, intString } from '../../../src/config/values.js';
import {
  CALLBACK_BODY_LIMIT,
  commonSettings,
  defineProvider,
  emulatedSettings,
  providerFileSchema,
  type ProviderSettings,
} from '../../../src/providers/provider-module.js';
import { AcmeAdapter } from './adapter.js';

export interface AcmeSettings extends ProviderSettings {
  /** Signs Acme's callbacks (ACME_WEBHOOK_SECRET); unset: genway polls only. */
  webhookSecret?: string;
}

/** A fifth provider, written as a new one would be: this folder and one registry line. */
export const acme = defineProvider({
  id: 'acme',
  config: {
    env: {
      ACME_BASE_URL: httpUrl.default('https://api.acme.example'),
      ACME_API_KEYS: z.string().optional(),
      ACME_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
      ACME_MAX_IN_FLIGHT: intString(1, 100_000).optional(),
    },
    file: providerFileSchema,
    settings: ({ env, file }): AcmeSettings | undefined => {
      const common = commonSettings(
        'acme',
        {
          baseUrl: env.ACME_BASE_URL,
          keys: env.ACME_API_KEYS,
          maxInFlight: env.ACME_MAX_IN_FLIGHT,
        },
        file,
      );
      return (
        common && {
          ...common,
          ...(env.ACME_WEBHOOK_SECRET ? { webhookSecret: env.ACME_WEBHOOK_SECRET } : {}),
        }
      );
    },
  },
  secrets: (settings) => (settings.webhookSecret ? [settings.webhookSecret] : []),
  defaultMaxInFlight: 2,
  credentialStrategy: () => 'fewest-in-flight',
  adapter: (settings, client) => new AcmeAdapter(settings, client),
  emulator: async ({ host }) => {
    const { startAcmeEmulator } = await import('./emulator.js');
    const apiKey = 'acme-emulator-key';
    const handle = await startAcmeEmulator({ host, apiKey });
    return {
      handle,
      settings: emulatedSettings('acme', handle.url, apiKey),
    };
  },
  callbackRoute: { routing: 'task', bodyLimit: CALLBACK_BODY_LIMIT },
});
