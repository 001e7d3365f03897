import { z } from 'zod';
import { httpUrl, intString, list } from '../config/values.js';
import type { CredentialStrategy } from '../domain/credential-pool.js';
import type { Credential, ProviderAdapter } from '../domain/ports.js';
import type { CallbackReceipt } from '../domain/upstream-callbacks.js';
import type { EmulatorHandle } from '../emulators/shared/types.js';
import type { UpstreamClient, UpstreamClientOptions } from './http-client.js';

/** What every provider's settings carry; each provider adds its own fields. */
export interface ProviderSettings {
  baseUrl: string;
  credentials: Credential[];
  /** True when served by the built-in emulator. */
  emulated: boolean;
  /** Default poll budget of this provider's credentials (file: `polls_per_second`). */
  pollsPerSecond?: number;
}

const fileCredentialSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  secret: z.string().min(1),
  max_in_flight: z.number().int().min(1).optional(),
  polls_per_second: z.number().positive().optional(),
});

/** What every provider's entry under `providers.<id>` of GATEWAY_CONFIG takes (extend it). */
export const providerFileSchema = z.object({
  base_url: httpUrl.optional(),
  credentials: z.array(fileCredentialSchema).default([]),
  polls_per_second: z.number().positive().optional(),
});
export type ProviderFileEntry = z.output<typeof providerFileSchema>;

/** Records a configuration problem under the variable it names (all are reported at once). */
export type ReportProblem = (variable: string, message: string) => void;

/**
 * The part every provider reads the same way: the credentials of its key variable (ids
 * `<id>-1`, `<id>-2`, …, capped by its max-in-flight variable) followed by the file's, the
 * file's `base_url` over the variable's, and the file's `polls_per_second`. Undefined when no
 * credential is configured: the provider is then off.
 */
export function commonSettings(
  id: string,
  env: { baseUrl: string; keys: string | undefined; maxInFlight: number | undefined },
  file: ProviderFileEntry | undefined,
): ProviderSettings | undefined {
  const credentials: Credential[] = [
    ...list(env.keys).map((secret, i) => ({
      id: `${id}-${i + 1}`,
      secret,
      ...(env.maxInFlight !== undefined ? { maxInFlight: env.maxInFlight } : {}),
    })),
    ...(file?.credentials ?? []).map((c) => ({
      id: c.id,
      secret: c.secret,
      maxInFlight: c.max_in_flight,
      ...(c.polls_per_second !== undefined ? { pollsPerSecond: c.polls_per_second } : {}),
    })),
  ];
  if (credentials.length === 0) return undefined;
  return {
    baseUrl: file?.base_url ?? env.baseUrl,
    credentials,
    emulated: false,
    ...(file?.polls_per_second !== undefined ? { pollsPerSecond: file.polls_per_second } : {}),
  };
}

const baseUrlVariable = (defaultUrl: string) => httpUrl.default(defaultUrl);
const keysVariable = () => z.string().optional();
const maxInFlightVariable = () => intString(1, 100_000).optional();

/**
 * The three variables every provider has, under the names the provider gives them: its base
 * URL (with its default), its key(s) (comma-separated) and their max in flight. `schema` goes
 * into the provider's `env`; `settings` reads them with the file entry (see commonSettings).
 */
export function commonEnv<const B extends string, const K extends string, const M extends string>(
  id: string,
  defaultBaseUrl: string,
  names: { baseUrl: B; keys: K; maxInFlight: M },
) {
  const schema = {
    [names.baseUrl]: baseUrlVariable(defaultBaseUrl),
    [names.keys]: keysVariable(),
    [names.maxInFlight]: maxInFlightVariable(),
  } as Record<B, ReturnType<typeof baseUrlVariable>> &
    Record<K, ReturnType<typeof keysVariable>> &
    Record<M, ReturnType<typeof maxInFlightVariable>>;
  const settings = (
    env: Record<B, string> & Partial<Record<K, string> & Record<M, number>>,
    file: ProviderFileEntry | undefined,
  ) =>
    commonSettings(
      id,
      { baseUrl: env[names.baseUrl], keys: env[names.keys], maxInFlight: env[names.maxInFlight] },
      file,
    );
  return { schema, settings };
}

/** How a provider is configured: its variables, its file entry and how they become settings. */
export interface ProviderConfigSpec<
  S extends ProviderSettings,
  E extends z.ZodRawShape,
  F extends z.ZodType<ProviderFileEntry>,
> {
  /** Its environment variables, with their defaults. */
  env: E;
  /** Its entry under `providers.<id>` of the GATEWAY_CONFIG file. */
  file: F;
  /** Its settings, or undefined when it is not configured (no credential). */
  settings(
    input: { env: z.output<z.ZodObject<E>>; file: z.output<F> | undefined },
    report: ReportProblem,
  ): S | undefined;
}

/** Where an emulator is started, and where genway takes its fixed-URL callbacks. */
export interface EmulatorContext {
  host: string;
  /** `{PUBLIC_URL}/callbacks/{id}` when genway knows its public URL. */
  callbackUrl?: string;
}

/** What every provider's settings hold when its emulator serves it (one credential). */
export function emulatedSettings(id: string, baseUrl: string, secret: string): ProviderSettings {
  return { baseUrl, credentials: [{ id: `${id}-emulator`, secret }], emulated: true };
}

export interface StartedEmulator<S extends ProviderSettings> {
  handle: EmulatorHandle;
  /** Settings pointing at it (`emulated: true`). */
  settings: S;
}

/** genway's answer to an accepted callback, when the provider wants a particular one. */
export interface CallbackAnswer {
  contentType: string;
  body: string;
}

/**
 * The route `POST /callbacks/{id}/…` of a provider that calls back. The callback itself is
 * authenticated by the adapter's `callbacks.verify()` (it holds the configured secrets).
 */
export interface CallbackRoute {
  /**
   * `task`: `POST /callbacks/{id}/{taskId}`, the URL of each create names the task.
   * `upstream-id`: `POST /callbacks/{id}`, one fixed URL set in the provider's console.
   * The same as the adapter's `callbacks.routing`.
   */
  routing: 'task' | 'upstream-id';
  /** Largest callback body accepted. */
  bodyLimit: number;
  /** A credential rides in the URL: request logs show the route pattern only. */
  logRouteOnly?: boolean;
  /** Answer to an accepted callback; default `{"received": true, "applied": …}` as JSON. */
  answer?(receipt: CallbackReceipt): CallbackAnswer;
}

/** Callback bodies are small JSON documents. */
export const CALLBACK_BODY_LIMIT = 64 * 1024;

/**
 * Everything genway needs to know about one provider (`providers/<id>/index.ts` exports one;
 * `providers/registry.ts` lists them). Config loading, emulators, adapters, credential pools
 * and the callback route loop over the list.
 */
export interface ProviderModule<
  Id extends string = string,
  S extends ProviderSettings = ProviderSettings,
> {
  readonly id: Id;
  readonly config: {
    env: z.ZodRawShape;
    file: z.ZodType<ProviderFileEntry>;
    settings(
      input: { env: Record<string, unknown>; file: ProviderFileEntry | undefined },
      report: ReportProblem,
    ): S | undefined;
  };
  /** Secrets in its settings beyond the credentials (webhook signing secrets): scrubbed from logs. */
  secrets?(settings: S): string[];
  /**
   * Jobs in flight per credential unless the credential sets `max_in_flight` (file) or the
   * provider's max-in-flight variable: the provider's documented limit
   * (shared/reference/providers.md). Beyond it the upstream refuses new jobs, so genway queues
   * or refuses the create itself (429 before any upstream call) instead.
   */
  readonly defaultMaxInFlight: number;
  /** How its credentials are shared out (domain/credential-pool.ts). */
  credentialStrategy(settings: S): CredentialStrategy;
  /** Options of its UpstreamClient beyond the configured timeout. */
  readonly upstream?: Pick<UpstreamClientOptions, 'maxBodyBytes'>;
  adapter(settings: S, client: UpstreamClient): ProviderAdapter;
  /** Starts its built-in emulator on loopback (the no-credentials start). */
  emulator?(context: EmulatorContext): Promise<StartedEmulator<S>>;
  readonly callbackRoute?: CallbackRoute;
}

/**
 * Declares a provider module with its config spec typed by its own schemas. The spec's
 * `settings()` is only ever called with what those schemas produced (config/schema.ts).
 */
export function defineProvider<
  Id extends string,
  S extends ProviderSettings,
  E extends z.ZodRawShape,
  F extends z.ZodType<ProviderFileEntry>,
>(
  module: Omit<ProviderModule<Id, S>, 'config'> & { config: ProviderConfigSpec<S, E, F> },
): ProviderModule<Id, S> {
  return module;
}

type SettingsOf<M> = M extends ProviderModule<string, infer S> ? S : never;

/** `Config.providers` for a list of modules: each provider's settings under its id, when configured. */
export type ProvidersConfigOf<L extends readonly ProviderModule[]> = {
  [M in L[number] as M['id']]?: SettingsOf<M>;
};

/** The settings of provider `id` in a `Config.providers`, whatever list it was loaded with. */
export function settingsIn(providers: object, id: string): ProviderSettings | undefined {
  return (providers as Partial<Record<string, ProviderSettings>>)[id];
}
