import type { Operation } from '../contracts/common.js';
import { modelMatches, type ModelNames } from './access.js';
import type { GenerationInput } from './ports.js';

/** How a price is counted (architecture §8). */
export type PriceUnit = 'per_image' | 'per_second' | 'per_task' | 'per_predict_second';

/** One entry of `prices` in the configuration file. */
export interface PriceEntry {
  /** An exact public model id, or `provider/*`. */
  model: string;
  /** Only for this operation; absent: every operation of the model. */
  operation?: Operation;
  unit: PriceUnit;
  /** USD per unit. */
  usd: number;
  /**
   * Seconds assumed in an estimate where the request does not say (`per_second` without a
   * `duration`; `per_predict_second`, which only the upstream knows afterwards).
   */
  estimateSeconds?: number;
}

/** Seconds an estimate assumes when neither the request nor the price entry says. */
export const DEFAULT_ESTIMATE_SECONDS = 5;

/** What an upstream reported about what it charged (UpstreamSnapshot.usage). */
export interface UpstreamUsage {
  /** Seconds the model ran (e.g. a `predict_time` the upstream reports). */
  predictSeconds?: number;
  /** The upstream says it charged nothing for this job (e.g. a refund after moderation). */
  refunded?: boolean;
}

/** Money is counted in whole micro-dollars, so sums are exact (no floating-point drift). */
export const toMicros = (usd: number) => Math.round(usd * 1_000_000);
export const fromMicros = (micros: number) => micros / 1_000_000;
const roundUsd = (usd: number) => fromMicros(toMicros(usd));

/**
 * The entry pricing `model` for `operation`: the most specific wins (an exact id over a
 * `provider/*` pattern, then one naming the operation over one without); the first listed
 * among equals. Undefined: the model has no price.
 */
export function priceFor(
  prices: readonly PriceEntry[],
  model: ModelNames,
  operation: Operation,
): PriceEntry | undefined {
  let best: PriceEntry | undefined;
  let bestScore = -1;
  for (const entry of prices) {
    if (entry.operation !== undefined && entry.operation !== operation) continue;
    if (!modelMatches(entry.model, model)) continue;
    const score = (entry.model.endsWith('/*') ? 0 : 2) + (entry.operation ? 1 : 0);
    if (score > bestScore) [best, bestScore] = [entry, score];
  }
  return best;
}

/** The cost of a task as created, from its request (USD); null without a price. */
export function estimateCost(entry: PriceEntry | undefined, input: GenerationInput): number | null {
  if (!entry) return null;
  const seconds = entry.estimateSeconds ?? DEFAULT_ESTIMATE_SECONDS;
  switch (entry.unit) {
    case 'per_task':
      return roundUsd(entry.usd);
    case 'per_image':
      return roundUsd(entry.usd * (input.num_outputs ?? 1));
    case 'per_second':
      return roundUsd(entry.usd * (input.duration ?? seconds));
    case 'per_predict_second':
      return roundUsd(entry.usd * seconds);
  }
}

/** What `chargeOf` needs of a finished task. */
export interface FinishedTask {
  status: 'succeeded' | 'failed' | 'canceled';
  /** Null when no upstream job was ever started. */
  upstreamId: string | null;
  errorCode: string | null;
  outputCount: number;
  usage: UpstreamUsage | undefined;
  estimated: number | null;
}

/** The error of a create that may have started a job genway could not find again. */
const OUTCOME_UNKNOWN = 'upstream_outcome_unknown';

/**
 * The charge of a finished task (USD): 0 where the upstream provably charged nothing (it
 * refunded, or no job was started and none may have been), actual usage where the upstream
 * reports it, else the estimate. An outcome genway cannot know is charged. Null: no price.
 */
export function chargeOf(entry: PriceEntry | undefined, task: FinishedTask): number | null {
  if (task.usage?.refunded) return 0;
  if (task.upstreamId === null && task.errorCode !== OUTCOME_UNKNOWN) return 0;
  if (!entry) return null;
  if (entry.unit === 'per_predict_second' && task.usage?.predictSeconds !== undefined) {
    return roundUsd(entry.usd * task.usage.predictSeconds);
  }
  if (entry.unit === 'per_image' && task.status === 'succeeded' && task.outputCount > 0) {
    return roundUsd(entry.usd * task.outputCount);
  }
  return task.estimated;
}
