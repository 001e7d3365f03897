import { z } from 'zod';

/** Replicate's prediction statuses (`aborted`: Cancel-After deadline passed before it started). */
export const REPLICATE_STATUSES = [
  'starting',
  'processing',
  'succeeded',
  'failed',
  'canceled',
  'aborted',
] as const;
export type ReplicateStatus = (typeof REPLICATE_STATUSES)[number];

const nullableString = z.string().nullish();

/**
 * A prediction as create, get and cancel answer it (api.replicate.com/openapi.json
 * `schemas_prediction_response`). Loose: Replicate adds fields over time, and a relay may too.
 * `output` is whatever the model returns (a URL, a list of URLs, text, an object).
 */
export const ReplicatePredictionSchema = z.looseObject({
  id: z.string().min(1).max(256),
  model: z.string().optional(),
  version: nullableString,
  input: z.record(z.string(), z.unknown()).nullish(),
  logs: nullableString,
  output: z.unknown().optional(),
  error: z.unknown().optional(),
  status: z.string(),
  source: nullableString,
  data_removed: z.boolean().optional(),
  created_at: nullableString,
  started_at: nullableString,
  completed_at: nullableString,
  metrics: z
    .looseObject({
      predict_time: z.number().optional(),
      total_time: z.number().optional(),
    })
    .nullish(),
  urls: z.record(z.string(), z.unknown()).nullish(),
});
export type ReplicatePrediction = z.infer<typeof ReplicatePredictionSchema>;

/**
 * Replicate's error body: problem details `{title, detail, status}` (plus `invalid_fields` on
 * input validation); 429s come with `{detail}` alone.
 */
export const ReplicateProblemSchema = z.looseObject({
  title: z.string().optional(),
  detail: z.unknown().optional(),
  status: z.number().optional(),
  invalid_fields: z
    .array(z.looseObject({ field: z.string().optional(), description: z.string().optional() }))
    .optional(),
});
export type ReplicateProblem = z.infer<typeof ReplicateProblemSchema>;

/** `POST /predictions` (by version) and `POST /models/{owner}/{name}/predictions` (no version). */
export interface ReplicateCreateBody {
  version?: string;
  input: Record<string, unknown>;
}
