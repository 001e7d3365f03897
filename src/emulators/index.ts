import { randomBytes } from 'node:crypto';
import type { Config, ProvidersConfig } from '../config/config.js';
import { startHaiperEmulator } from './haiper/server.js';
import { startModelslabEmulator } from './modelslab/server.js';
import { startPixverseEmulator } from './pixverse/server.js';
import { startReplicateEmulator } from './replicate/server.js';
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
export async function startEmulators(
  host = '127.0.0.1',
  /** genway's PUBLIC_URL: the emulators then send their webhooks (when it is on loopback). */
  options: { publicUrl?: string | null } = {},
): Promise<RunningEmulators> {
  // PixVerse's console webhook and Replicate's signing secret, random per start.
  const pixverseWebhook = { id: 'genway-emulator', secret: randomBytes(24).toString('base64url') };
  const modelslab = await startModelslabEmulator({ host, apiKeys: ['ml-emulator-key'] });
  const haiper = await startHaiperEmulator({ host, accessKeys: ['haiper-emulator-key'] });
  const pixverse = await startPixverseEmulator({
    host,
    apiKeys: ['pixverse-emulator-key'],
    webhooks: options.publicUrl
      ? {
          [pixverseWebhook.id]: {
            url: `${options.publicUrl}/callbacks/pixverse`,
            secret: pixverseWebhook.secret,
          },
        }
      : {},
  });
  const replicate = await startReplicateEmulator({ host, tokens: ['r8_emulator_token'] });
  const handles: EmulatorHandle[] = [modelslab, haiper, pixverse, replicate];
  return {
    providers: {
      modelslab: {
        baseUrl: modelslab.url,
        credentials: [{ id: 'modelslab-emulator', secret: 'ml-emulator-key' }],
        emulated: true,
        loadBalancer: true,
        videoPath: '/api/v1/enterprise/video/text2video',
      },
      haiper: {
        baseUrl: haiper.basePath,
        endpointPath: haiper.endpointPath,
        credentials: [{ id: 'haiper-emulator', secret: 'haiper-emulator-key' }],
        emulated: true,
      },
      replicate: {
        baseUrl: replicate.baseUrl,
        credentials: [{ id: 'replicate-emulator', secret: 'r8_emulator_token' }],
        emulated: true,
        models: [],
        webhookSecrets: [replicate.webhookSecret],
      },
      pixverse: {
        baseUrl: pixverse.baseUrl,
        credentials: [{ id: 'pixverse-emulator', secret: 'pixverse-emulator-key' }],
        emulated: true,
        webhookId: pixverseWebhook.id,
        webhookSecret: pixverseWebhook.secret,
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
