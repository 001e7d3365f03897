import type { Operation } from '../../contracts/common.js';
import type { FieldError } from '../../errors/gateway-error.js';
import type { GenerationInput, UpstreamSnapshot } from '../../domain/ports.js';
import type { TaskOutput } from '../../domain/task-record.js';
import { contentTypeOf, scrub } from '../http-client.js';
import { checkProviderOptions } from '../provider-options.js';
import {
  IMAGE_LIMITS,
  MODELSLAB_PROVIDER_OPTIONS,
  MODELSLAB_SCHEDULERS,
  VIDEO_LIMITS,
} from './models.js';
import type { ModelslabAnswer, ModelslabCreateBody } from './wire.js';
import { isTrustedOutputUrl } from '../output-url.js';

/** Enterprise video output is deleted after 24 h unless the server stores it on S3. */
const VIDEO_RETENTION_MS = 24 * 60 * 60 * 1000;

export function validateInput(operation: Operation, input: GenerationInput): FieldError[] {
  const limits = operation === 'text-to-video' ? VIDEO_LIMITS : IMAGE_LIMITS;
  const errors: FieldError[] = [];
  const check = (
    path: string,
    value: number | undefined,
    min: number,
    max: number,
    rule: string,
  ) => {
    if (value !== undefined && (value < min || value > max))
      errors.push({ path, message: `${rule}: must be between ${min} and ${max}` });
  };
  check('width', input.width, 1, limits.maxWidth, `ModelsLab ${operation} width limit`);
  check('height', input.height, 1, limits.maxHeight, `ModelsLab ${operation} height limit`);
  check('num_outputs', input.num_outputs, 1, limits.maxOutputs, 'ModelsLab samples limit');
  check('steps', input.steps, ...limits.steps, 'ModelsLab num_inference_steps limit');
  check(
    'guidance_scale',
    input.guidance_scale,
    ...limits.guidanceScale,
    'ModelsLab guidance_scale limit',
  );
  if (
    input.scheduler !== undefined &&
    !(MODELSLAB_SCHEDULERS as readonly string[]).includes(input.scheduler)
  ) {
    errors.push({
      path: 'scheduler',
      message: `ModelsLab scheduler must be one of ${MODELSLAB_SCHEDULERS.join(', ')}`,
    });
  }
  errors.push(
    ...checkProviderOptions(input.provider_options, MODELSLAB_PROVIDER_OPTIONS, 'modelslab'),
  );
  return errors;
}

const str = (n: number | undefined) => (n === undefined ? undefined : String(n));

/** The create body. Numbers go as strings, as the enterprise docs show them. */
export function toCreateBody(
  operation: Operation,
  model: string,
  input: GenerationInput,
  key: string,
): ModelslabCreateBody {
  const body: ModelslabCreateBody = {
    ...input.provider_options,
    key,
    model_id: model,
    prompt: input.prompt ?? '',
    negative_prompt: input.negative_prompt ?? null,
    width: str(input.width ?? 512),
    height: str(input.height ?? 512),
    num_inference_steps: str(input.steps ?? (operation === 'text-to-video' ? 30 : 20)),
    guidance_scale: input.guidance_scale ?? 7.5,
    seed: input.seed ?? null,
  };
  if (operation === 'text-to-image') body.samples = str(input.num_outputs ?? 1);
  if (input.scheduler) body.scheduler = input.scheduler;
  return body;
}

/** The upstream's own message, under either spelling. */
export function messageOf(answer: { message?: unknown; messege?: unknown }): string | undefined {
  const m = answer.message ?? answer.messege;
  if (typeof m === 'string') return m;
  return m === undefined || m === null ? undefined : JSON.stringify(m);
}

function outputsOf(urls: string[], operation: Operation, now: number): TaskOutput[] {
  const fallback = operation === 'text-to-video' ? 'video/mp4' : 'image/png';
  return urls.map((url) => ({
    url,
    contentType: contentTypeOf(url, fallback),
    expiresAt: operation === 'text-to-video' ? now + VIDEO_RETENTION_MS : null,
  }));
}

export interface PollState extends Record<string, unknown> {
  /** Where to POST `{key}` for this job (fetch_result when trusted, else the documented path). */
  fetchUrl: string;
  futureLinks: string[];
}

/**
 * Maps a create or fetch answer with status success/processing/failed. Errors
 * (`status:"error"`) are handled by errors.ts before this is called.
 */
export function toSnapshot(
  answer: ModelslabAnswer,
  operation: Operation,
  fetchUrlFor: (answer: ModelslabAnswer) => string,
  previous: Partial<PollState>,
  now: number,
  /** The credentials: a failure text that quotes one is scrubbed before it is stored. */
  secrets: readonly string[] = [],
): UpstreamSnapshot {
  const upstreamId = answer.id && answer.id !== '' ? answer.id : null;
  switch (answer.status) {
    case 'success': {
      const urls =
        answer.output && answer.output.length > 0
          ? answer.output
          : (answer.future_links ?? previous.futureLinks ?? []);
      return {
        upstreamId,
        upstreamStatus: 'success',
        status: 'succeeded',
        progress: 1,
        outputs: outputsOf(urls, operation, now),
      };
    }
    case 'processing': {
      const state: PollState = {
        fetchUrl: previous.fetchUrl ?? fetchUrlFor(answer),
        futureLinks: answer.future_links ?? previous.futureLinks ?? [],
      };
      return {
        upstreamId,
        upstreamStatus: 'processing',
        status: 'running',
        state,
        pollAfterMs: answer.eta !== undefined && answer.eta > 0 ? answer.eta * 1000 : undefined,
      };
    }
    case 'failed':
      return {
        upstreamId,
        upstreamStatus: 'failed',
        status: 'failed',
        error: {
          code: 'upstream_rejected',
          // Stored on the task and shown to the caller: scrubbed and bounded (500 characters).
          message: scrub(messageOf(answer) ?? 'ModelsLab reported the job as failed', secrets),
        },
      };
    default:
      return {
        upstreamId,
        upstreamStatus: answer.status,
        status: 'failed',
        error: {
          code: 'upstream_bad_response',
          message: `ModelsLab answered with unknown status "${answer.status}"`,
        },
      };
  }
}

/** Hosts (and their subdomains) ModelsLab serves files from, besides its configured origin. */
const OUTPUT_DOMAINS = ['modelslab.com', 'stablediffusionapi.com'];
/**
 * Its CDN hosts as seen in its answers (providers.md section 1): that CloudFront distribution
 * and that public R2 bucket, by exact name. Not `*.cloudfront.net` or `pub-*.r2.dev`: anyone
 * can create such a host and have a task's output point at it.
 */
const OUTPUT_CDN = [
  /^d1okzptojspljx\.cloudfront\.net$/,
  /^pub-3626123a908346a7a8be8d9295f44e26\.r2\.dev$/,
];

/**
 * Whether an output URL from a ModelsLab answer may be fetched: the configured origin (the
 * emulator too), or https on ModelsLab's own domains and CDN hosts (providers.md section 1).
 */
export function isModelslabOutputUrl(url: string, origin: string): boolean {
  return isTrustedOutputUrl(url, origin, OUTPUT_DOMAINS, OUTPUT_CDN);
}
