import type { Operation } from '../contracts/common.js';
import { GatewayError } from '../errors/gateway-error.js';

/**
 * What one gateway key may use (admin API keys; keys from the environment and the file have
 * none). A list that is absent allows everything; `provider/*` allows every model of a provider.
 */
export interface KeyRules {
  models?: readonly string[] | null;
  operations?: readonly Operation[] | null;
}

/** Who is creating: the tenant's key (its id, null for a key from the configuration) and rules. */
export interface Caller {
  keyId: string | null;
  rules?: KeyRules;
  /** The request limit of an admin API tenant that has one (else the configured limits). */
  rateLimit?: { max: number; windowMs: number };
}

/** The model a create resolved to, in every spelling a rule may use. */
export interface ModelNames {
  /** What the caller asked for (a public id, `provider` alone or an alias). */
  requested: string;
  /** The public id it resolved to (`provider/model`). */
  publicId: string;
  provider: string;
}

/** The names of a resolved model (`publicId`, `provider`) and the spelling it was asked by. */
export const namesOf = (
  requested: string,
  model: { publicId: string; provider: string },
): ModelNames => ({ requested, publicId: model.publicId, provider: model.provider });

/** Whether `pattern` (an exact id or `provider/*`) names the model. */
export function modelMatches(pattern: string, model: ModelNames): boolean {
  if (pattern.endsWith('/*')) return pattern.slice(0, -2) === model.provider;
  return pattern === model.publicId || pattern === model.requested;
}

/**
 * Refuses a create the key may not make: 403 `operation_not_allowed` or `model_not_allowed`.
 * Pure: called before anything is reserved, claimed or sent.
 */
export function checkAccess(
  rules: KeyRules | undefined,
  operation: Operation,
  model: ModelNames,
): void {
  if (rules?.operations && !rules.operations.includes(operation)) {
    throw new GatewayError(
      'operation_not_allowed',
      `This gateway key may not use ${operation} (allowed: ${rules.operations.join(', ') || 'none'})`,
    );
  }
  if (rules?.models && !rules.models.some((p) => modelMatches(p, model))) {
    throw new GatewayError(
      'model_not_allowed',
      `This gateway key may not use the model ${model.publicId} (allowed: ${rules.models.join(', ') || 'none'})`,
    );
  }
}

/** Whether the key may use the model at all (fallback models it may not use are skipped). */
export const modelAllowed = (rules: KeyRules | undefined, model: ModelNames): boolean =>
  !rules?.models || rules.models.some((p) => modelMatches(p, model));
