import type { Operation, TaskStatus } from '../../contracts/common.js';
import type { GenerationInput, ProviderAdapter, UpstreamSnapshot } from '../../domain/ports.js';
import { MAX_TASK_OUTPUTS, type TaskOutput } from '../../domain/task-record.js';
import type { FieldError } from '../../errors/gateway-error.js';
import { contentTypeOf, scrub } from '../http-client.js';
import { IMAGE_INPUT_FIELD, parseModelRef, type ModelRef } from './models.js';
import type { ReplicateCreateBody, ReplicatePrediction } from './wire.js';

/** API predictions keep their inputs, outputs and logs for 1 hour, then `data_removed`. */
export const DATA_RETENTION_MS = 60 * 60 * 1000;
/** What the task keeps of the upstream logs (their tail carries the progress bar). */
const LOGS_KEPT = 4000;
/** Input strings longer than this (data: URIs) are not kept on the task. */
const INPUT_STRING_KEPT = 4096;
const OPTION_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Output data: URIs bigger than this are not kept as outputs (they would bloat the store). */
const DATA_URI_KEPT = 2 * 1024 * 1024;
/** Input fields the record keeps a copy of (Replicate models take a few dozen at most). */
const INPUT_FIELDS_KEPT = 100;

const STATUS_MAP: Readonly<Record<string, TaskStatus>> = {
  starting: 'queued',
  processing: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  canceled: 'canceled',
  aborted: 'canceled',
};

/** Normalized field → the input name most Replicate image models use. */
const IMAGE_FIELDS: readonly (readonly [keyof GenerationInput, string])[] = [
  ['prompt', 'prompt'],
  ['negative_prompt', 'negative_prompt'],
  ['width', 'width'],
  ['height', 'height'],
  ['num_outputs', 'num_outputs'],
  ['guidance_scale', 'guidance_scale'],
  ['steps', 'num_inference_steps'],
  ['scheduler', 'scheduler'],
  ['seed', 'seed'],
];
const VIDEO_FIELDS: readonly (readonly [keyof GenerationInput, string])[] = [
  ['prompt', 'prompt'],
  ['negative_prompt', 'negative_prompt'],
  ['duration', 'duration'],
  ['aspect_ratio', 'aspect_ratio'],
  ['resolution', 'resolution'],
  ['width', 'width'],
  ['height', 'height'],
  ['guidance_scale', 'guidance_scale'],
  ['steps', 'num_inference_steps'],
  ['scheduler', 'scheduler'],
  ['seed', 'seed'],
];

function fieldsOf(
  operation: Operation,
  model: string,
): (readonly [keyof GenerationInput, string])[] {
  if (operation === 'text-to-image') return [...IMAGE_FIELDS];
  const ref = parseModelRef(model);
  const imageField = (ref?.model && IMAGE_INPUT_FIELD[ref.model]) || 'image';
  return [...VIDEO_FIELDS, ['image', imageField]];
}

const isPrimitive = (v: unknown) =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/**
 * Replicate inputs are defined by each model, so any `provider_options` key is allowed; values
 * must be JSON primitives (string, number, boolean) or arrays of them, and may not repeat an
 * input that a normalized field already sets.
 */
export const validateInput: ProviderAdapter['validate'] = (operation, model, input) => {
  const errors: FieldError[] = [];
  const mapped = new Map(
    fieldsOf(operation, model)
      .filter(([field]) => input[field] !== undefined)
      .map(([field, name]) => [name, field]),
  );
  for (const [key, value] of Object.entries(input.provider_options ?? {})) {
    const path = `provider_options.${key}`;
    if (!OPTION_KEY.test(key)) {
      errors.push({ path, message: 'not a Replicate input name (letters, digits, _)' });
    } else if (!(isPrimitive(value) || (Array.isArray(value) && value.every(isPrimitive)))) {
      errors.push({
        path,
        message:
          'Replicate inputs passed here must be strings, numbers, booleans or arrays of them',
      });
    } else if (mapped.has(key)) {
      errors.push({ path, message: `already set by the normalized field "${mapped.get(key)}"` });
    }
  }
  if (operation === 'image-to-video' && input.image === undefined) {
    errors.push({ path: 'image', message: 'required for image-to-video' });
  }
  return errors;
};

/** The model's `input` object from the normalized fields plus `provider_options`. */
export function toReplicateInput(
  operation: Operation,
  model: string,
  input: GenerationInput,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...input.provider_options };
  for (const [field, name] of fieldsOf(operation, model)) {
    const value = input[field];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Replicate's smallest `Cancel-After` (it refuses shorter ones). */
export const MIN_CANCEL_AFTER_SECONDS = 5;

/**
 * The `Cancel-After` header for a task deadline: the whole seconds left (Replicate's `30s`
 * syntax), at least Replicate's 5 s minimum; genway itself cancels at the exact deadline.
 */
export function cancelAfterOf(deadlineAt: number, now: number): string {
  const left = Math.ceil((deadlineAt - now) / 1000);
  return `${Math.max(MIN_CANCEL_AFTER_SECONDS, left)}s`;
}

/** `Prefer: wait` seconds for a create: never holding past the task's deadline (0: no header). */
export function preferWaitOf(seconds: number, deadlineAt: number | undefined, now: number): number {
  if (deadlineAt === undefined) return seconds;
  return Math.max(0, Math.min(seconds, Math.floor((deadlineAt - now) / 1000)));
}

/** Where a create goes and its body: by version (bare id, as the official client sends it) or by model. */
export function toCreateRequest(
  ref: ModelRef,
  input: Record<string, unknown>,
): { path: string; body: ReplicateCreateBody } {
  if (ref.version) return { path: '/predictions', body: { version: ref.version, input } };
  const [owner = '', name = ''] = (ref.model ?? '').split('/');
  return {
    path: `/models/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/predictions`,
    body: { input },
  };
}

/**
 * What genway keeps of the upstream prediction (in the task's adapter state, key `replicate`),
 * so that the `/replicate/v1` surface can answer with Replicate's own fields. Never the
 * upstream's `urls` (they name the upstream) and never a credential.
 */
export interface ReplicateView {
  model: string | null;
  version: string | null;
  input: Record<string, unknown>;
  logs: string;
  started_at: string | null;
  completed_at: string | null;
  metrics: { predict_time?: number; total_time?: number } | null;
  data_removed: boolean;
  /** Shape of the upstream `output`: one URL (`string`) or a list (`list`), to render it alike. */
  output_kind: 'string' | 'list' | null;
}

export interface ReplicateState extends Record<string, unknown> {
  replicate: ReplicateView;
  /** Files listed while still `processing` (sync API), kept in case they vanish later. */
  early_outputs?: TaskOutput[];
}

/** The input as kept on the task: long strings (data: URIs) are replaced by a note. */
export function keptInput(input: Record<string, unknown>): Record<string, unknown> {
  // Bounded whatever the caller sent: long strings and large nested values are replaced by a
  // note, and only the first INPUT_FIELDS_KEPT fields are kept.
  return Object.fromEntries(
    Object.entries(input)
      .slice(0, INPUT_FIELDS_KEPT)
      .map(([k, v]) => {
        if (typeof v === 'string') {
          return [
            k,
            v.length > INPUT_STRING_KEPT ? `[${v.length} characters not kept by genway]` : v,
          ];
        }
        if (v === null || typeof v !== 'object') return [k, v];
        const size = JSON.stringify(v).length;
        return [
          k,
          size > INPUT_STRING_KEPT ? `[a value of ${size} characters not kept by genway]` : v,
        ];
      }),
  );
}

const isFileUrl = (s: string) =>
  /^https?:\/\//i.test(s) ? s.length <= 8192 : /^data:/i.test(s) && s.length <= DATA_URI_KEPT;

/** URLs in a model's output: a string, a list, or the string values of an object. */
export function outputUrls(output: unknown): { urls: string[]; kind: 'string' | 'list' | null } {
  if (typeof output === 'string')
    return { urls: isFileUrl(output) ? [output] : [], kind: 'string' };
  if (Array.isArray(output)) {
    return {
      urls: output.filter((o): o is string => typeof o === 'string' && isFileUrl(o)),
      kind: 'list',
    };
  }
  if (output && typeof output === 'object') {
    const urls = Object.values(output).filter(
      (o): o is string => typeof o === 'string' && isFileUrl(o),
    );
    return { urls, kind: 'list' };
  }
  return { urls: [], kind: null };
}

function contentTypeOfOutput(url: string, fallback: string): string {
  const data = /^data:([a-z]+\/[a-z0-9.+-]+)[;,]/i.exec(url);
  return data?.[1] ? data[1].toLowerCase() : contentTypeOf(url, fallback);
}

/** Progress from the last tqdm bar in the logs (` 42%|████ ...`), 0..1. */
export function progressFromLogs(logs: string): number | undefined {
  const all = [...logs.matchAll(/(\d{1,3})%\|/g)];
  const last = all.at(-1)?.[1];
  if (last === undefined) return undefined;
  return Math.min(1, Number(last) / 100);
}

function errorMessage(error: unknown, secrets: readonly string[]): string {
  const text =
    typeof error === 'string'
      ? error
      : error === null || error === undefined
        ? ''
        : JSON.stringify(error);
  return text.trim() === '' ? 'Replicate reported the prediction as failed' : scrub(text, secrets);
}

/**
 * A prediction answer in genway's terms. `previous` is the state kept from earlier answers:
 * it carries the input genway sent, and outputs listed earlier (the upstream may have removed
 * them since: `data_removed`, `output: null`).
 */
export function toSnapshot(
  p: ReplicatePrediction,
  operation: Operation,
  previous: Partial<ReplicateState>,
  secrets: readonly string[],
  now: number,
): UpstreamSnapshot {
  const status = STATUS_MAP[p.status];
  const { urls, kind } = outputUrls(p.output);
  const completedAt = p.completed_at ? Date.parse(p.completed_at) : NaN;
  const expiresAt = (Number.isNaN(completedAt) ? now : completedAt) + DATA_RETENTION_MS;
  const fallback = operation === 'text-to-image' ? 'image/png' : 'video/mp4';
  const outputs: TaskOutput[] = urls.map((url) => ({
    url,
    contentType: contentTypeOfOutput(url, fallback),
    expiresAt: url.startsWith('data:') ? null : expiresAt,
  }));
  const before = previous.replicate;
  const logs = (p.logs ?? before?.logs ?? '').slice(-LOGS_KEPT);
  const view: ReplicateView = {
    model: p.model ?? before?.model ?? null,
    version: p.version ?? before?.version ?? null,
    input: before?.input ?? keptInput(p.input ?? {}),
    logs: p.data_removed ? (before?.logs ?? '') : logs,
    started_at: p.started_at ?? before?.started_at ?? null,
    completed_at: p.completed_at ?? before?.completed_at ?? null,
    metrics: p.metrics ?? before?.metrics ?? null,
    data_removed: p.data_removed ?? false,
    output_kind: kind ?? before?.output_kind ?? null,
  };
  // Outputs seen while running, kept (bounded) in case the final answer has lost them; once
  // the prediction has succeeded they are the task's outputs and leave the state.
  const early = outputs.length > 0 ? outputs.slice(0, MAX_TASK_OUTPUTS) : previous.early_outputs;
  const state: ReplicateState = {
    replicate: view,
    ...(early && status !== 'succeeded' ? { early_outputs: early } : {}),
  };
  // Replicate bills by `metrics.predict_time`: the usage a `per_predict_second` price counts.
  const predictSeconds = view.metrics?.predict_time;
  const base = {
    upstreamId: p.id,
    upstreamStatus: p.status,
    state,
    ...(predictSeconds !== undefined ? { usage: { predictSeconds } } : {}),
  };

  if (status === undefined) {
    return {
      ...base,
      status: 'failed',
      error: {
        code: 'upstream_bad_response',
        message: `Replicate answered with unknown status "${scrub(p.status, secrets)}"`,
      },
    };
  }
  switch (status) {
    case 'succeeded':
      // Output removed after the retention period (or never readable): keep what was seen
      // before; `outputs` left undefined means "no news", so genway keeps what it stored.
      return {
        ...base,
        status,
        progress: 1,
        ...(outputs.length > 0
          ? { outputs }
          : previous.early_outputs
            ? { outputs: previous.early_outputs }
            : {}),
      };
    case 'failed':
      return {
        ...base,
        status,
        error: { code: 'upstream_rejected', message: errorMessage(p.error, secrets) },
      };
    case 'running':
      return { ...base, status, progress: progressFromLogs(logs) ?? null };
    default:
      return { ...base, status };
  }
}
