/** The validated configuration, built once at start-up (config/load.ts) and passed in. */

import type { Credential } from '../domain/ports.js';
import type { Config } from './schema.js';

export type { Credential };
export type { Config } from './schema.js';
export type { ProvidersConfig } from '../providers/registry.js';
export type { ProviderSettings } from '../providers/provider-module.js';

export type TenantConfig = Config['tenants'][number];
/** Requests per window a tenant may send (all gateway surfaces together). `max` 0: unlimited. */
export type RateLimit = Config['rateLimit'];
export type CredentialPolicy = Config['credentialPolicy'];

export const DEV_GATEWAY_KEY = 'genway-dev-key';
