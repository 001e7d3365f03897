import { z } from 'zod';
import { boolString } from '../../config/values.js';
import {
  CALLBACK_BODY_LIMIT,
  commonEnv,
  defineProvider,
  emulatedSettings,
  providerFileSchema,
  type ProviderSettings,
} from '../provider-module.js';
import { ModelslabAdapter } from './adapter.js';

export interface ModelslabSettings extends ProviderSettings {
  /** true: every call carries the first key; false: genway spreads tasks over the keys. */
  loadBalancer: boolean;
  videoPath: string;
}

const VIDEO_PATHS = [
  '/api/v1/enterprise/video/text2video',
  '/api/v1/enterprise/text2video',
] as const;
const COMMON_ENV = commonEnv('modelslab', 'https://modelslab.com', {
  baseUrl: 'MODELSLAB_BASE_URL',
  keys: 'MODELSLAB_API_KEYS',
  maxInFlight: 'MODELSLAB_MAX_IN_FLIGHT',
});
const EMULATOR_KEY = 'ml-emulator-key';

/** ModelsLab's enterprise API: key in the JSON body, an enterprise load balancer in front. */
export const modelslab = defineProvider({
  id: 'modelslab',
  config: {
    env: {
      ...COMMON_ENV.schema,
      MODELSLAB_LOAD_BALANCER: boolString.default(true),
      MODELSLAB_VIDEO_PATH: z.enum(VIDEO_PATHS).default(VIDEO_PATHS[0]),
    },
    file: providerFileSchema.extend({
      load_balancer: z.boolean().optional(),
      video_path: z.string().optional(),
    }),
    settings: ({ env, file }): ModelslabSettings | undefined => {
      const common = COMMON_ENV.settings(env, file);
      return (
        common && {
          ...common,
          loadBalancer: file?.load_balancer ?? env.MODELSLAB_LOAD_BALANCER,
          videoPath: file?.video_path ?? env.MODELSLAB_VIDEO_PATH,
        }
      );
    },
  },
  // 5 queued requests per account on pay-as-you-go (10 Standard, 15 Premium), §1 "Limits are
  // queue-based" [M3 rate-limits.mdx]. Raise it per credential for bigger plans.
  defaultMaxInFlight: 5,
  // Behind the enterprise load balancer every call carries the first key; it spreads the work.
  credentialStrategy: (settings) => (settings.loadBalancer ? 'first' : 'fewest-in-flight'),
  adapter: (settings, client) => new ModelslabAdapter(settings, client),
  emulator: async ({ host }) => {
    const { startModelslabEmulator } = await import('../../emulators/modelslab/server.js');
    const handle = await startModelslabEmulator({ host, apiKeys: [EMULATOR_KEY] });
    return {
      handle,
      settings: {
        ...emulatedSettings('modelslab', handle.url, EMULATOR_KEY),
        loadBalancer: true,
        videoPath: VIDEO_PATHS[0],
      },
    };
  },
  // ModelsLab signs nothing: the per-task token in the URL is the credential.
  callbackRoute: { routing: 'task', bodyLimit: CALLBACK_BODY_LIMIT, logRouteOnly: true },
});
