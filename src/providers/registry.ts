import { haiper } from './haiper/index.js';
import { modelslab } from './modelslab/index.js';
import { pixverse } from './pixverse/index.js';
import type { ProvidersConfigOf } from './provider-module.js';
import { replicate } from './replicate/index.js';

/**
 * Every provider genway serves, one line each (in the order GET /v1/models lists them). Adding
 * a provider: its folder under providers/<id>/ and one line here.
 */
export const PROVIDERS = [modelslab, replicate, haiper, pixverse] as const;

/** `Config.providers`: each configured provider's settings under its id. */
export type ProvidersConfig = ProvidersConfigOf<typeof PROVIDERS>;
