/** The validated configuration, built once at start-up (config/load.ts) and passed in. */

export interface Credential {
  /** Stable, non-secret id recorded on tasks (e.g. `modelslab-1`). */
  id: string;
  secret: string;
  /** Cap on jobs in flight with this credential, if the operator set one. */
  maxInFlight?: number;
}

interface ProviderSettingsBase {
  baseUrl: string;
  credentials: Credential[];
  /** True when served by the built-in emulator. */
  emulated: boolean;
}

export interface ModelslabSettings extends ProviderSettingsBase {
  /** true: every call carries the first key; false: genway spreads tasks over the keys. */
  loadBalancer: boolean;
  videoPath: string;
}
export interface ReplicateSettings extends ProviderSettingsBase {
  models: string[];
}
export type PixverseSettings = ProviderSettingsBase;
export interface HaiperSettings extends ProviderSettingsBase {
  endpointPath: string;
}

export interface ProvidersConfig {
  modelslab?: ModelslabSettings;
  replicate?: ReplicateSettings;
  pixverse?: PixverseSettings;
  haiper?: HaiperSettings;
}

export interface TenantConfig {
  id: string;
  keys: string[];
}

export interface Config {
  port: number;
  host: string;
  publicUrl: string | null;
  storeUrl: string;
  logLevel: string;
  tenants: TenantConfig[];
  /** No gateway key configured: the documented development key is accepted (emulator mode only). */
  devKey: boolean;
  webhookSecret: string | null;
  outboundAllowlist: string[];
  aliases: Record<string, string>;
  providers: ProvidersConfig;
  /** No provider credentials at all: serve against the built-in emulators. */
  useEmulators: boolean;
  polling: { intervalMs: number; maxIntervalMs: number; unreachableDeadlineMs: number };
  limits: {
    bodyLimitBytes: number;
    maxWaitSeconds: number;
    /**
     * How long `POST /openai/v1/images/generations` (synchronous in OpenAI's API) holds the
     * answer for the task to finish (OPENAI_IMAGES_WAIT_SECONDS); 120 when unset.
     */
    openaiImagesWaitSeconds?: number;
  };
}

export const DEV_GATEWAY_KEY = 'genway-dev-key';
