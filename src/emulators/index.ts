import type { Config, ProvidersConfig } from '../config/config.js';
import { startModelslabEmulator } from './modelslab/server.js';
import type { EmulatorHandle } from './shared/types.js';

export interface RunningEmulators {
  providers: ProvidersConfig;
  handles: EmulatorHandle[];
  close(): Promise<void>;
}

/**
 * Starts every built-in emulator on loopback and returns provider settings pointing at them:
 * what `npm start` serves when no provider credential is configured.
 */
export async function startEmulators(host = '127.0.0.1'): Promise<RunningEmulators> {
  const modelslab = await startModelslabEmulator({ host, apiKeys: ['ml-emulator-key'] });
  const handles: EmulatorHandle[] = [modelslab];
  return {
    providers: {
      modelslab: {
        baseUrl: modelslab.url,
        credentials: [{ id: 'modelslab-emulator', secret: 'ml-emulator-key' }],
        emulated: true,
        loadBalancer: true,
        videoPath: '/api/v1/enterprise/video/text2video',
      },
    },
    handles,
    close: async () => {
      await Promise.all(handles.map((h) => h.close()));
    },
  };
}

export function withEmulators(config: Config, emulators: RunningEmulators): Config {
  return { ...config, providers: emulators.providers };
}
