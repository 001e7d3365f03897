import { z } from 'zod';
import { list } from '../../config/values.js';
import { OUTPUT_HOST } from '../output-url.js';
import {
  commonEnv,
  defineProvider,
  emulatedSettings,
  providerFileSchema,
  type ProviderSettings,
} from '../provider-module.js';
import { ReplicateAdapter } from './adapter.js';

export interface ReplicateSettings extends ProviderSettings {
  models: string[];
  /**
   * The account's `whsec_` webhook signing secret(s) (REPLICATE_WEBHOOK_SECRET, from
   * `GET /webhooks/default/secret`; one per account when tokens span accounts). Unset: genway
   * asks Replicate for no webhooks and polls only.
   */
  webhookSecrets?: string[];
  /**
   * Hosts whose output URLs genway also fetches (file: `output_hosts`), beside replicate.delivery
   * and the origin of the configured base URL (a relay serves its outputs there).
   */
  outputHosts?: string[];
}

const COMMON_ENV = commonEnv('replicate', 'https://api.replicate.com/v1', {
  baseUrl: 'REPLICATE_BASE_URL',
  keys: 'REPLICATE_API_TOKEN',
  maxInFlight: 'REPLICATE_MAX_IN_FLIGHT',
});
const EMULATOR_TOKEN = 'r8_emulator_token';

/** The largest prediction genway reads from Replicate, polled or delivered by webhook. */
const ANSWER_MAX_BYTES = 32 * 1024 * 1024;

/** Replicate predictions, direct or through a relay; Standard Webhooks callbacks. */
export const replicate = defineProvider({
  id: 'replicate',
  config: {
    env: {
      ...COMMON_ENV.schema,
      REPLICATE_MODELS: z.string().optional(),
      REPLICATE_WEBHOOK_SECRET: z
        .string()
        .regex(
          /^whsec_[A-Za-z0-9+/=]{16,}(\s*,\s*whsec_[A-Za-z0-9+/=]{16,})*$/,
          'expected the whsec_ secret from GET /webhooks/default/secret (comma-separated for several accounts)',
        )
        .optional(),
    },
    file: providerFileSchema.extend({
      models: z.array(z.string()).optional(),
      output_hosts: z
        .array(
          z.string().regex(OUTPUT_HOST, 'expected a host name or an http(s)://host[:port] origin'),
        )
        .optional(),
    }),
    settings: ({ env, file }): ReplicateSettings | undefined => {
      const common = COMMON_ENV.settings(env, file);
      return (
        common && {
          ...common,
          models: file?.models ?? list(env.REPLICATE_MODELS),
          ...(file?.output_hosts?.length ? { outputHosts: file.output_hosts } : {}),
          ...(env.REPLICATE_WEBHOOK_SECRET
            ? { webhookSecrets: list(env.REPLICATE_WEBHOOK_SECRET) }
            : {}),
        }
      );
    },
  },
  secrets: (settings) => settings.webhookSecrets ?? [],
  // No concurrency cap, but 600 creates per minute, §2 [R8]; 100 in flight keeps a gateway
  // well inside that.
  defaultMaxInFlight: 100,
  credentialStrategy: () => 'fewest-in-flight',
  // Replicate echoes `input` in every answer, data: URIs included (up to ~10 MB each).
  upstream: { maxBodyBytes: ANSWER_MAX_BYTES },
  adapter: (settings, client) => new ReplicateAdapter(settings, client),
  emulator: async ({ host }) => {
    const { startReplicateEmulator } = await import('../../emulators/replicate/server.js');
    const handle = await startReplicateEmulator({ host, tokens: [EMULATOR_TOKEN] });
    return {
      handle,
      settings: {
        ...emulatedSettings('replicate', handle.baseUrl, EMULATOR_TOKEN),
        models: [],
        webhookSecrets: [handle.webhookSecret],
      },
    };
  },
  // Signed webhooks (Standard Webhooks) per task; a prediction echoes its input, data: URIs
  // included, so a webhook may be as large as a polled answer. Signature checked before use.
  callbackRoute: { routing: 'task', bodyLimit: ANSWER_MAX_BYTES },
});
