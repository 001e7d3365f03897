import { z } from 'zod';
import {
  commonEnv,
  defineProvider,
  emulatedSettings,
  providerFileSchema,
  type ProviderSettings,
} from '../provider-module.js';
import { HaiperAdapter } from './adapter.js';

export interface HaiperSettings extends ProviderSettings {
  endpointPath: string;
}

const COMMON_ENV = commonEnv('haiper', 'https://genaiapi.cloudsway.net/v1/ai', {
  baseUrl: 'HAIPER_BASE_URL',
  keys: 'HAIPER_ACCESS_KEY',
  maxInFlight: 'HAIPER_MAX_IN_FLIGHT',
});
const EMULATOR_KEY = 'haiper-emulator-key';

/** Haiper video through the Cloudsway MaaS host (no callbacks: polled only). */
export const haiper = defineProvider({
  id: 'haiper',
  config: {
    env: {
      ...COMMON_ENV.schema,
      HAIPER_ENDPOINT_PATH: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/)
        .optional(),
    },
    file: providerFileSchema.extend({ endpoint_path: z.string().optional() }),
    settings: ({ env, file }, report): HaiperSettings | undefined => {
      const common = COMMON_ENV.settings(env, file);
      if (!common) return undefined;
      const endpointPath = file?.endpoint_path ?? env.HAIPER_ENDPOINT_PATH;
      if (!endpointPath) report('HAIPER_ENDPOINT_PATH', 'required when HAIPER_ACCESS_KEY is set');
      return { ...common, endpointPath: endpointPath ?? '' };
    },
  },
  // 40 concurrent generations per user, §4 [H3 rate-limits] (Cloudsway: undocumented).
  defaultMaxInFlight: 40,
  credentialStrategy: () => 'fewest-in-flight',
  adapter: (settings, client) => new HaiperAdapter(settings, client),
  emulator: async ({ host }) => {
    const { startHaiperEmulator } = await import('../../emulators/haiper/server.js');
    const handle = await startHaiperEmulator({ host, accessKeys: [EMULATOR_KEY] });
    return {
      handle,
      settings: {
        ...emulatedSettings('haiper', handle.basePath, EMULATOR_KEY),
        endpointPath: handle.endpointPath,
      },
    };
  },
});
