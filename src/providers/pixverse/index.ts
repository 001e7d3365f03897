import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  CALLBACK_BODY_LIMIT,
  commonEnv,
  defineProvider,
  emulatedSettings,
  providerFileSchema,
  type ProviderSettings,
} from '../provider-module.js';
import { PixverseAdapter } from './adapter.js';

export interface PixverseSettings extends ProviderSettings {
  /** `webhook_id` created in PixVerse's console (PIXVERSE_WEBHOOK_ID), sent on creates. */
  webhookId?: string;
  /** That webhook's signing secret (PIXVERSE_WEBHOOK_SECRET). */
  webhookSecret?: string;
}

const COMMON_ENV = commonEnv('pixverse', 'https://app-api.pixverse.ai/openapi/v2', {
  baseUrl: 'PIXVERSE_BASE_URL',
  keys: 'PIXVERSE_API_KEY',
  maxInFlight: 'PIXVERSE_MAX_IN_FLIGHT',
});
const EMULATOR_KEY = 'pixverse-emulator-key';

/** PixVerse's platform API: `API-KEY` + a fresh `Ai-trace-id`, images uploaded first. */
export const pixverse = defineProvider({
  id: 'pixverse',
  config: {
    env: {
      ...COMMON_ENV.schema,
      PIXVERSE_WEBHOOK_ID: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected the webhook_id shown in the PixVerse console')
        .optional(),
      PIXVERSE_WEBHOOK_SECRET: z.string().min(8, 'must be at least 8 characters').optional(),
    },
    file: providerFileSchema,
    settings: ({ env, file }, report): PixverseSettings | undefined => {
      if (env.PIXVERSE_WEBHOOK_ID && !env.PIXVERSE_WEBHOOK_SECRET) {
        report(
          'PIXVERSE_WEBHOOK_SECRET',
          'required with PIXVERSE_WEBHOOK_ID (callbacks are verified with it)',
        );
      }
      const common = COMMON_ENV.settings(env, file);
      return (
        common && {
          ...common,
          ...(env.PIXVERSE_WEBHOOK_ID ? { webhookId: env.PIXVERSE_WEBHOOK_ID } : {}),
          ...(env.PIXVERSE_WEBHOOK_SECRET ? { webhookSecret: env.PIXVERSE_WEBHOOK_SECRET } : {}),
        }
      );
    },
  },
  secrets: (settings) => (settings.webhookSecret ? [settings.webhookSecret] : []),
  // A per-plan concurrency cap (ErrCode 500044), numbers undocumented; a third party says 5 on
  // the Essential API plan, §3 [P2][P8].
  defaultMaxInFlight: 5,
  credentialStrategy: () => 'fewest-in-flight',
  adapter: (settings, client) => new PixverseAdapter(settings, client),
  emulator: async ({ host, callbackUrl }) => {
    const { startPixverseEmulator } = await import('../../emulators/pixverse/server.js');
    // The console's webhook and its signing secret, random per start.
    const webhook = { id: 'genway-emulator', secret: randomBytes(24).toString('base64url') };
    const handle = await startPixverseEmulator({
      host,
      apiKeys: [EMULATOR_KEY],
      webhooks: callbackUrl ? { [webhook.id]: { url: callbackUrl, secret: webhook.secret } } : {},
    });
    return {
      handle,
      settings: {
        ...emulatedSettings('pixverse', handle.baseUrl, EMULATOR_KEY),
        webhookId: webhook.id,
        webhookSecret: webhook.secret,
      },
    };
  },
  // The URL set for the webhook_id in PixVerse's console, the same for every task. PixVerse
  // wants `200` with the body `ok`, or it retries for hours.
  callbackRoute: {
    routing: 'upstream-id',
    bodyLimit: CALLBACK_BODY_LIMIT,
    answer: () => ({ contentType: 'text/plain; charset=utf-8', body: 'ok' }),
  },
});
