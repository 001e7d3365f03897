import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Config } from '../../config/config.js';
import type { ReplicatePredictionBody } from '../../contracts/replicate.js';
import type { ModelRegistry } from '../../domain/models.js';
import type { TaskService } from '../../domain/task-service.js';
import { isTerminal, type OutputLinks, type TaskRecord } from '../../domain/task-record.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { preferredWait } from '../wait.js';

export const REPLICATE_PROVIDER = 'replicate';
export const SURFACE_PREFIX = '/replicate/v1';

/** Path ids are checked before use: the official client puts them in the path unencoded. */
const PREDICTION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The prediction fields the provider's adapter keeps for this surface (`surfaceFields` of the
 * adapter port). Read tolerantly: a task written by an older genway may lack them, and then
 * defaults apply.
 */
const FieldsSchema = z.object({
  model: z.string().nullish(),
  version: z.string().nullish(),
  input: z.record(z.string(), z.unknown()).nullish(),
  logs: z.string().nullish(),
  started_at: z.string().nullish(),
  completed_at: z.string().nullish(),
  metrics: z.object({ predict_time: z.number().optional() }).loose().nullish(),
  data_removed: z.boolean().nullish(),
  /** Shape of the upstream `output`: one URL (`string`) or a list (`list`), to render it alike. */
  output_kind: z.enum(['string', 'list']).nullish(),
});

/** A `Host` header fit for a URL: a name, IPv4 or [IPv6], and an optional port. */
const VALID_HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * `https://host/replicate/v1` as the caller reaches genway (PUBLIC_URL when configured). A
 * `Host` header that no URL can carry (`a b`) is the caller's mistake: 400.
 */
export function surfaceBase(config: Config, request: FastifyRequest): string {
  if (config.publicUrl === null && !VALID_HOST.test(request.host)) {
    throw new GatewayError('invalid_request', 'The Host header is not a valid host[:port]');
  }
  const origin = config.publicUrl ?? `${request.protocol}://${request.host}`;
  return `${origin.replace(/\/+$/, '')}${SURFACE_PREFIX}`;
}

const notFound = (id: string) => new GatewayError('task_not_found', `No prediction ${id}`);

/** The caller's prediction (a task of the replicate provider); 404 for anything else. */
export async function findPrediction(
  tasks: TaskService,
  tenant: string,
  id: string,
): Promise<TaskRecord> {
  if (!PREDICTION_ID.test(id)) throw notFound(id.slice(0, 64));
  const task = await tasks.get(tenant, id);
  if (task.provider !== REPLICATE_PROVIDER) throw notFound(id);
  return task;
}

/** genway status → Replicate's words (never genway's, or `replicate.wait()` spins forever). */
function statusOf(task: TaskRecord): ReplicatePredictionBody['status'] {
  switch (task.status) {
    case 'queued':
      return 'starting';
    case 'running':
      return 'processing';
    default:
      // `aborted` upstream is `canceled` here: the official client's wait() only stops on
      // succeeded, failed and canceled.
      return task.status;
  }
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function modelAndVersion(task: TaskRecord): { model: string; version: string } {
  const name = task.model.slice(REPLICATE_PROVIDER.length + 1);
  const colon = name.indexOf(':');
  if (colon !== -1) return { model: name.slice(0, colon), version: name.slice(colon + 1) };
  return /^[0-9a-f]{64}$/.test(name)
    ? { model: name, version: name }
    : { model: name, version: 'hidden' };
}

export interface RenderOptions {
  /**
   * A create answer: a prediction not yet finished is reported `starting`, so that the
   * official client's blocking `run()` keeps polling instead of taking `processing` as done.
   */
  created?: boolean;
  /** Signed genway links for stored outputs (media storage on). */
  links?: OutputLinks;
}

/**
 * A task of the replicate provider as a Replicate prediction object; `fields` are what its
 * adapter kept of the upstream prediction (see `renderPrediction`).
 */
export function toPrediction(
  task: TaskRecord,
  fields: Record<string, unknown>,
  base: string,
  options: RenderOptions = {},
): ReplicatePredictionBody {
  const parsed = FieldsSchema.safeParse(fields);
  const view = parsed.success ? parsed.data : {};
  const fallback = modelAndVersion(task);
  const succeeded = task.status === 'succeeded';
  const links = options.links;
  const urls = task.outputs.map((o, i) =>
    o.stored && links ? links.link(task.id, i, 'file') : o.url,
  );
  const output = !succeeded
    ? null
    : view.output_kind === 'string' && urls.length === 1
      ? urls[0]
      : urls.length > 0 || !view.data_removed
        ? urls
        : null;
  const terminal = isTerminal(task.status);
  const status = options.created && !terminal ? 'starting' : statusOf(task);
  const completedAt = terminal ? (view.completed_at ?? iso(task.completedAt)) : null;
  const completedMs = completedAt ? Date.parse(completedAt) : NaN;
  const predictTime = view.metrics?.predict_time;
  return {
    id: task.id,
    model: view.model ?? fallback.model,
    version: view.version ?? fallback.version,
    input: view.input ?? {},
    logs: view.logs ?? '',
    output,
    error: task.status === 'failed' ? (task.error?.message ?? 'The prediction failed') : null,
    status,
    source: 'api',
    data_removed: output === null && succeeded && (view.data_removed ?? false),
    created_at: new Date(task.createdAt).toISOString(),
    started_at: view.started_at ?? null,
    completed_at: completedAt,
    deadline: null,
    ...(terminal && !Number.isNaN(completedMs)
      ? {
          metrics: {
            ...(predictTime !== undefined ? { predict_time: predictTime } : {}),
            total_time: Math.max(0, (completedMs - task.createdAt) / 1000),
          },
        }
      : {}),
    urls: {
      get: `${base}/predictions/${task.id}`,
      cancel: `${base}/predictions/${task.id}/cancel`,
      web: `${base.slice(0, -SURFACE_PREFIX.length)}/v1/tasks/${task.id}`,
    },
  };
}

/** The task as a prediction, with the fields its provider's adapter exposes to this surface. */
export function renderPrediction(
  models: ModelRegistry,
  task: TaskRecord,
  base: string,
  options: RenderOptions = {},
): ReplicatePredictionBody {
  const fields = models.adapter(task.provider)?.surfaceFields?.(task.upstreamState) ?? {};
  return toPrediction(task, fields, base, options);
}

/**
 * `Prefer: wait` → the most genway holds (60 s, or MAX_WAIT_SECONDS), `wait=N` → N s
 * clamped to 1..that; undefined when the client did not ask to wait.
 */
export function preferWait(header: string | string[] | undefined, max: number): number | undefined {
  const asked = preferredWait(header);
  if (asked === undefined) return undefined;
  return asked === null ? max : Math.min(Math.max(asked, 1), max);
}
