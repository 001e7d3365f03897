import type { Config, ProvidersConfig } from '../config/config.js';
import type { ProviderModule, ProviderSettings } from '../providers/provider-module.js';
import { PROVIDERS } from '../providers/registry.js';
import type { EmulatorHandle } from './shared/types.js';

export interface RunningEmulators {
  providers: ProvidersConfig;
  handles: EmulatorHandle[];
  close(): Promise<void>;
}

/**
 * Starts the built-in emulator of every provider of `registry` on loopback and returns
 * provider settings pointing at them: what `npm start` serves when no provider credential is
 * configured.
 */
export async function startEmulators(
  host = '127.0.0.1',
  options: {
    /** genway's PUBLIC_URL: the emulators then send their webhooks (when it is on loopback). */
    publicUrl?: string | null;
    registry?: readonly ProviderModule[];
  } = {},
): Promise<RunningEmulators> {
  const { publicUrl, registry = PROVIDERS } = options;
  const providers: Record<string, ProviderSettings> = {};
  const handles: EmulatorHandle[] = [];
  const close = async () => {
    await Promise.all(handles.map((h) => h.close()));
  };
  try {
    for (const provider of registry) {
      if (!provider.emulator) continue;
      const started = await provider.emulator({
        host,
        ...(publicUrl ? { callbackUrl: `${publicUrl}/callbacks/${provider.id}` } : {}),
      });
      handles.push(started.handle);
      providers[provider.id] = started.settings;
    }
  } catch (err) {
    await close();
    throw err;
  }
  // Built by the modules of `registry`; typed as the real list's (tests add to that list).
  return { providers: providers as ProvidersConfig, handles, close };
}

export function withEmulators(config: Config, emulators: RunningEmulators): Config {
  return { ...config, providers: emulators.providers };
}
