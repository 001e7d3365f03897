import type { Operation } from '../contracts/common.js';
import { isCredentialRefusal } from './credential-health.js';
import type { CredentialPool } from './credential-pool.js';
import type { ModelRegistry, ResolvedModel } from './models.js';
import type { Credential, GenerationInput } from './ports.js';
import { startFailureOf } from './start-outcome.js';

/** Where one attempt of a create goes: a model, and a slot on a credential of its provider. */
export interface StartTarget {
  model: ResolvedModel;
  pool: CredentialPool;
  credential: Credential;
}

/**
 * Where one create goes after a failed attempt that started nothing (see start-outcome.ts):
 * another credential of the same provider (when nothing was sent, or the provider refused
 * that credential itself), else, only when nothing was sent, the next fallback model with a
 * free credential.
 */
export class StartFailover {
  /** Credentials of the current provider already tried by this create. */
  private readonly tried = new Set<string>();
  private readonly fallbacks: ResolvedModel[];

  constructor(
    private readonly pools: ReadonlyMap<string, CredentialPool>,
    fallbacks: readonly ResolvedModel[],
    /** The tenant of the create: slots are taken on its fair share. */
    private readonly tenant?: string,
    /** The task: it holds the slots taken (see CredentialPool.reserve). */
    private readonly holder?: string,
  ) {
    this.fallbacks = [...fallbacks];
  }

  /** The next target after `target` failed with `err`; undefined when the create must fail. */
  async next(target: StartTarget, err: unknown): Promise<StartTarget | undefined> {
    const notSent = startFailureOf(err) === 'not-sent';
    if (notSent || isCredentialRefusal(err)) {
      this.tried.add(target.credential.id);
      const other = await target.pool
        .reserve(this.tenant, this.tried, this.holder)
        .catch(() => undefined);
      if (other) return { ...target, credential: other };
    }
    if (!notSent) return undefined;
    for (let model = this.fallbacks.shift(); model; model = this.fallbacks.shift()) {
      const pool = this.pools.get(model.provider);
      if (!pool) continue;
      try {
        const credential = await pool.reserve(this.tenant, undefined, this.holder);
        this.tried.clear();
        return { model, pool, credential };
      } catch {
        // No usable credential for this fallback either: the next one.
      }
    }
    return undefined;
  }
}

/** A create, as far as choosing its fallback models goes. */
export interface FallbackQuery {
  /** The model as the request named it (public id, provider or alias). */
  requested: string;
  resolved: ResolvedModel;
  operation: Operation;
  input: GenerationInput;
  /** A compatible surface's raw input: it only fits the model it was written for. */
  raw: Record<string, unknown> | undefined;
}

/**
 * Fallback models configured for the requested model (by public id or by the name asked
 * for) that serve the operation and accept the input. None for raw inputs.
 */
export function fallbackModels(
  models: ModelRegistry,
  configured: Readonly<Record<string, readonly string[]>> | undefined,
  q: FallbackQuery,
): ResolvedModel[] {
  const names = configured?.[q.resolved.publicId] ?? configured?.[q.requested];
  if (q.raw || !names) return [];
  const usable: ResolvedModel[] = [];
  for (const name of names) {
    try {
      const model = models.resolve(name, q.operation);
      if (model.adapter.validate(q.operation, model.model, q.input).length === 0) {
        usable.push(model);
      }
    } catch {
      // Unknown model, or one without this operation: not a fallback for this create.
    }
  }
  return usable;
}
