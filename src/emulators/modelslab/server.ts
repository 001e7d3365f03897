import { randomInt, randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { MediaStore } from '../shared/media.js';
import { recordCalls } from '../shared/record-calls.js';
import type { EmulatorHandle, RecordedCall } from '../shared/types.js';
import {
  EmulatorWebhooks,
  type SentWebhook,
  type WebhookDeliveryOptions,
} from '../shared/webhooks.js';

/**
 * Fake of the ModelsLab (stablediffusionapi.com) Enterprise API: text2img, text2video (old and
 * current path), every fetch form, queue limit, credits and server errors, as described in
 * shared/reference/providers.md §1 and seeds 000/001.
 */

export interface ModelslabEmulatorOptions {
  host?: string;
  port?: number;
  /** Keys the fake accepts in the body `key` field. Default `['ml-emulator-key']`. */
  apiKeys?: string[];
  /** Jobs one key may have in `processing` at once; one more is refused. Default 5. */
  queueLimit?: number;
  /**
   * 'always-200' (default): every error is HTTP 200 with `status:"error"`, as public clients
   * expect. 'real': the codes from ModelsLab's error docs (400/401/402/429). Whether the live
   * API sends them is unconfirmed, hence both modes.
   */
  errorHttpStatus?: 'always-200' | 'real';
  /** Spell `messege` instead of `message` in processing answers (v3/v4 era). */
  legacySpelling?: boolean;
  /** Emit ids as strings (newer doc examples) instead of integers (every real capture). */
  stringIds?: boolean;
  /**
   * How webhooks (jobs created with `webhook`) are POSTed when a job ends: only to loopback
   * URLs, optionally late or more than once. Default: once, at once.
   */
  webhooks?: WebhookDeliveryOptions;
}

export type ModelslabOutcome =
  /** Done at once: the create answer carries the output. */
  | 'success'
  /** Done at once, its output at these URLs (a CDN mirror, say) instead of the fake's own. */
  | { outputs: string[] }
  /**
   * Create answers `processing`; `processing` fetches answer `processing`, the next succeeds.
   * With `finishAfterMs` the job also ends on its own that long after the create, fetched or
   * not (as the real service does; its webhook goes out then).
   */
  | { processing: number; eta?: number; finishAfterMs?: number }
  /** Like processing, then the job ends `failed` with this message. */
  | { fail: string; afterFetches?: number; finishAfterMs?: number }
  /** The queue-limit error, whatever the key's queue holds. */
  | 'queue-full'
  | 'no-credits'
  /** A bare HTTP error such as 500 or 503. */
  | { http: number };

/** A webhook due once a job with `webhook` ends (POSTed when it names a loopback URL). */
export interface ModelslabWebhook {
  url: string;
  body: Record<string, unknown>;
}

export interface ModelslabEmulator extends EmulatorHandle {
  /** Queue outcomes for the next create calls (FIFO); an empty queue means 'success'. */
  scriptNext(outcome: ModelslabOutcome): void;
  /** Accepted create calls (text2img and text2video, every path). */
  readonly creates: number;
  /** The most jobs `key` ever had in `processing` at once (what a concurrency cap bounds). */
  peakProcessing(key: string): number;
  /** The body `key` of every API call, in order ('' when absent). */
  keysUsed(): string[];
  /** Webhooks due so far, success and failed shapes, in the order the jobs ended. */
  pendingWebhooks(): ModelslabWebhook[];
  /** Every webhook POST so far (refused non-loopback targets included), with the answers. */
  sentWebhooks(): SentWebhook[];
  /** Changes how later webhooks are delivered (delay, duplicates, or none at all). */
  webhookDelivery(options: WebhookDeliveryOptions): void;
  /** Resolves once every scheduled webhook POST has been answered. */
  webhooksIdle(): Promise<void>;
  /** Make an output URL answer 404 from now on, like an expired `temp` link. */
  expireOutput(url: string): void;
  reset(): void;
}

const API = '/api/v1/enterprise';
const DEFAULT_ETA = 1; // Real captures say 10–146 s; script `eta` to mimic that.
const RETRY_AFTER_S = 30;
// Seed values; a fake has nothing real to measure.
const GENERATION_TIME: Record<Kind, number> = {
  image: 2.920767068862915,
  video: 8.905120134353638,
};
const DEFAULT_MODEL: Record<Kind, string> = {
  image: 'runwayml/stable-diffusion-v1-5',
  video: 'cogvideox',
};

type Kind = 'image' | 'video';
type Body = Record<string, unknown>;

interface Job {
  id: number;
  key: string;
  kind: Kind;
  meta: Record<string, unknown>;
  eta: number;
  /** Reserved media URLs; published when the job succeeds. */
  futureLinks: string[];
  /** Fetches still to answer `processing` before the job ends. */
  fetchesLeft: number;
  failMessage?: string;
  state: 'processing' | 'success' | 'failed';
  webhook?: { url: string; trackId: unknown };
}

/**
 * A number that may arrive as a string ("512"), as the seeds send them. null and "" mean
 * absent, like Laravel's empty-string-to-null conversion.
 */
function numberField(field: string, min: number, max: number, integer = true) {
  let number = z
    .number({ error: `The ${field} must be a number.` })
    .min(min, `The ${field} must be at least ${min}.`)
    .max(max, `The ${field} must not be greater than ${max}.`);
  if (integer) number = number.int(`The ${field} must be an integer.`);
  return z.preprocess((value) => {
    if (value === null || value === '') return undefined;
    if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
    return value;
  }, number.optional());
}

const optionalText = z.string().nullish();

/** Documented limits; other documented fields (scheduler, lora, `loadbalancer`…) pass as is. */
function createSchema(maxSide: number) {
  return z.object({
    prompt: z
      .string({ error: 'The prompt field is required.' })
      .trim()
      .min(1, 'The prompt field is required.'),
    model_id: optionalText,
    negative_prompt: optionalText,
    scheduler: optionalText,
    width: numberField('width', 1, maxSide),
    height: numberField('height', 1, maxSide),
    samples: numberField('samples', 1, 4),
    num_inference_steps: numberField('num inference steps', 1, 50),
    guidance_scale: numberField('guidance scale', 1, 20, false),
    seed: numberField('seed', 0, Number.MAX_SAFE_INTEGER),
  });
}

const imageSchema = createSchema(1024);
const oldVideoSchema = createSchema(1024); // seed 000: "max 1024x1024"
// Current enterprise video path: cogvideox, max 512x512, num_frames ≤25.
const videoSchema = createSchema(512).extend({ num_frames: numberField('num frames', 1, 25) });

type CreateParams = z.infer<typeof imageSchema> & { num_frames?: number };

export async function startModelslabEmulator(
  opts: ModelslabEmulatorOptions = {},
): Promise<ModelslabEmulator> {
  const apiKeys = opts.apiKeys ?? ['ml-emulator-key'];
  const queueLimit = opts.queueLimit ?? 5;
  const realCodes = opts.errorHttpStatus === 'real';
  const messageField = opts.legacySpelling ? 'messege' : 'message';

  const app = Fastify({ logger: false });
  let url = '';
  const media = new MediaStore(() => url);
  media.register(app);

  const calls: RecordedCall[] = [];
  const script: ModelslabOutcome[] = [];
  const jobs = new Map<string, Job>();
  const webhooks: ModelslabWebhook[] = [];
  const delivery = new EmulatorWebhooks(opts.webhooks);
  /** Jobs that end on their own (`finishAfterMs`). */
  const finishTimers = new Set<NodeJS.Timeout>();
  let creates = 0;
  const peaks = new Map<string, number>();
  let nextId = 302455; // Seed 001's id; real ids are plain integers.

  recordCalls(app, calls);

  // Client errors such as a body that is not JSON get the real API's answer from a public
  // capture; anything else is the fake's own fault.
  app.setErrorHandler<FastifyError>((err, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      return reply.code(500).send({ status: 'error', message: 'Internal Server Error' });
    }
    return reply.code(realCodes ? 400 : 200).send({
      status: 'error',
      message: 'Invalid API Request',
      tip: '1. Make sure you are passing Content-Type: application/json in header. 2. Make sure you are doing POST request with valid JSON. 3. Make sure your JSON does not have error, use jsonlint to validate json array.',
    });
  });

  const emitId = (id: number): number | string => (opts.stringIds ? String(id) : id);

  /** An error body; the HTTP code applies only in 'real' mode. */
  function fail(reply: FastifyReply, code: number, body: Body) {
    return reply.code(realCodes ? code : 200).send({ status: 'error', ...body });
  }

  function bodyOf(req: FastifyRequest): Body {
    const body = req.body;
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Body) : {};
  }

  /** The caller's key if valid; otherwise the error has been sent. The header is ignored. */
  function authorise(body: Body, reply: FastifyReply): string | undefined {
    if (typeof body.key === 'string' && apiKeys.includes(body.key)) return body.key;
    fail(reply, 401, { message: 'Invalid API key' });
    return undefined;
  }

  function queued(key: string): number {
    let count = 0;
    for (const job of jobs.values()) if (job.key === key && job.state === 'processing') count++;
    return count;
  }

  function fetchResultUrl(job: Job): string {
    return job.kind === 'video'
      ? `${url}${API}/video/fetch/${job.id}`
      : `${url}${API}/fetch/${job.id}`;
  }

  function successBody(kind: Kind, id: number, output: string[], meta: Body): Body {
    return {
      status: 'success',
      generationTime: GENERATION_TIME[kind],
      id: emitId(id),
      output,
      meta,
    };
  }

  function processingBody(job: Job, message: string): Body {
    return {
      status: 'processing',
      tip: 'Your image is processing in background, you can get this image using fetch API',
      eta: job.eta,
      [messageField]: message,
      fetch_result: fetchResultUrl(job),
      id: emitId(job.id),
      output: [],
      meta: job.meta,
      future_links: job.futureLinks,
      ...(opts.legacySpelling ? { webhook_status: '' } : {}),
    };
  }

  function failedBody(job: Job): Body {
    return { status: 'failed', id: emitId(job.id), message: job.failMessage };
  }

  function queueWebhook(webhook: Job['webhook'], body: Body): void {
    if (!webhook) return;
    const due = { url: webhook.url, body: { ...body, track_id: webhook.trackId } };
    webhooks.push(due);
    // Unsigned, as ModelsLab sends it [M3 webhooks.mdx].
    delivery.send(due.url, JSON.stringify(due.body), () => ({
      'content-type': 'application/json',
    }));
  }

  function buildMeta(kind: Kind, params: CreateParams): Body {
    return {
      prompt: params.prompt,
      model_id: params.model_id ?? DEFAULT_MODEL[kind],
      negative_prompt: params.negative_prompt ?? null,
      scheduler: params.scheduler ?? 'UniPCMultistepScheduler',
      W: params.width ?? 512,
      H: params.height ?? 512,
      guidance_scale: params.guidance_scale ?? 7.5,
      seed: params.seed ?? randomInt(2 ** 32 - 1),
      steps: params.num_inference_steps ?? 20,
      n_samples: kind === 'video' ? 1 : (params.samples ?? 1),
      ...(kind === 'video' ? { num_frames: params.num_frames ?? 16 } : {}),
      file_prefix: randomUUID(),
      outdir: 'out',
    };
  }

  function create(kind: Kind, schema: z.ZodType<CreateParams>) {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      const body = bodyOf(req);
      const key = authorise(body, reply);
      if (key === undefined) return reply;
      const parsed = schema.safeParse(body);
      if (!parsed.success) return fail(reply, 400, { message: parsed.error.issues[0]?.message });

      const outcome = script.shift() ?? 'success';
      if (outcome === 'no-credits') {
        return fail(reply, 402, { message: 'Insufficient credits. Please top up your account.' });
      }
      if (typeof outcome === 'object' && 'http' in outcome) {
        return reply
          .code(outcome.http)
          .send({ status: 'error', message: STATUS_CODES[outcome.http] ?? 'Error' });
      }
      if (outcome === 'queue-full' || queued(key) >= queueLimit) {
        return fail(reply, 429, {
          message: `Rate limit exceeded. Maximum ${queueLimit} queued requests allowed.`,
          retry_after: RETRY_AFTER_S,
        });
      }

      creates++;
      const id = nextId++;
      const meta = buildMeta(kind, parsed.data);
      const webhook =
        typeof body.webhook === 'string' && body.webhook !== ''
          ? { url: body.webhook, trackId: body.track_id ?? null }
          : undefined;
      const files = kind === 'video' ? 1 : (parsed.data.samples ?? 1);

      if (outcome === 'success' || 'outputs' in outcome) {
        const output =
          outcome === 'success'
            ? Array.from({ length: files }, () =>
                kind === 'video' ? media.addMp4() : media.addPng(),
              )
            : outcome.outputs;
        const answer = successBody(kind, id, output, meta);
        queueWebhook(webhook, answer);
        return answer;
      }

      const job: Job = {
        id,
        key,
        kind,
        meta,
        eta: 'eta' in outcome && outcome.eta !== undefined ? outcome.eta : DEFAULT_ETA,
        futureLinks: Array.from({ length: files }, () =>
          media.reserve(kind === 'video' ? 'mp4' : 'png'),
        ),
        fetchesLeft: 'fail' in outcome ? (outcome.afterFetches ?? 0) : outcome.processing,
        failMessage: 'fail' in outcome ? outcome.fail : undefined,
        state: 'processing',
        webhook,
      };
      jobs.set(String(id), job);
      peaks.set(key, Math.max(peaks.get(key) ?? 0, queued(key)));
      if (outcome.finishAfterMs !== undefined) {
        const timer = setTimeout(() => {
          finishTimers.delete(timer);
          if (job.state === 'processing' && jobs.get(String(id)) === job) finish(job);
        }, outcome.finishAfterMs);
        finishTimers.add(timer);
      }
      return processingBody(job, 'Try to fetch request after seconds estimated');
    };
  }

  /** Ends a job whose processing fetches are used up, publishing its files on success. */
  function finish(job: Job): void {
    if (job.failMessage !== undefined) {
      job.state = 'failed';
      queueWebhook(job.webhook, failedBody(job));
      return;
    }
    for (const link of job.futureLinks) media.publish(link);
    job.state = 'success';
    queueWebhook(job.webhook, successBody(job.kind, job.id, job.futureLinks, job.meta));
  }

  async function fetchJob(req: FastifyRequest, reply: FastifyReply, id: unknown) {
    const body = bodyOf(req);
    const key = authorise(body, reply);
    if (key === undefined) return reply;
    const job = jobs.get(String(id ?? ''));
    // Another key's job looks unknown, so tests can prove a task is fetched with its own key.
    if (!job || job.key !== key) {
      return {
        status: 'failed',
        id: '',
        message: 'Request not found',
        output: '',
        tip: 'Check the request id, and fetch with the API key that created the request.',
      };
    }
    if (job.state === 'processing') {
      if (job.fetchesLeft > 0) {
        job.fetchesLeft--;
        return processingBody(job, 'Request processing');
      }
      finish(job);
    }
    if (job.state === 'failed') return failedBody(job);
    return {
      ...successBody(job.kind, job.id, job.futureLinks, job.meta),
      proxy_links: job.futureLinks, // Real fetch answers add CDN mirrors; here the same files.
    };
  }

  // The `loadbalancer` flag needs no handling: the balancer is invisible to the client.
  app.post(`${API}/text2img`, create('image', imageSchema));
  app.post(`${API}/text2video`, create('video', oldVideoSchema));
  app.post(`${API}/video/text2video`, create('video', videoSchema));

  // Every fetch form finds every job (image or video): the real routing is unconfirmed.
  app.post(`${API}/fetch`, (req, reply) => fetchJob(req, reply, bodyOf(req).request_id));
  for (const path of [`${API}/fetch/:id`, `${API}/images/fetch/:id`, `${API}/video/fetch/:id`]) {
    app.post<{ Params: { id: string } }>(path, (req, reply) => fetchJob(req, reply, req.params.id));
  }

  // UNDOCUMENTED upstream (the spec shows only `{status, message}`): this body is the fake's
  // own choice, modelled on the public v3 system_load answer.
  for (const path of [`${API}/system_details`, `${API}/video/system_details`]) {
    app.post(path, async (req, reply) => {
      const key = authorise(bodyOf(req), reply);
      if (key === undefined) return reply;
      return {
        status: 'ok',
        undocumented: true,
        queue_num: queued(key),
        queue_limit: queueLimit,
        queue_time: 0,
      };
    });
  }

  url = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });

  return {
    url,
    calls,
    scriptNext(outcome) {
      script.push(outcome);
    },
    get creates() {
      return creates;
    },
    peakProcessing: (key) => peaks.get(key) ?? 0,
    keysUsed() {
      return calls
        .filter((call) => call.path.startsWith('/api/'))
        .map((call) => {
          const key = (call.body as Body | undefined)?.key;
          return typeof key === 'string' ? key : '';
        });
    },
    pendingWebhooks() {
      return [...webhooks];
    },
    sentWebhooks() {
      return [...delivery.sent];
    },
    webhookDelivery(options) {
      delivery.configure(options);
    },
    webhooksIdle: () => delivery.idle(),
    expireOutput(outputUrl) {
      media.kill(outputUrl);
    },
    reset() {
      calls.length = 0;
      script.length = 0;
      jobs.clear();
      webhooks.length = 0;
      creates = 0;
      peaks.clear();
      for (const t of finishTimers) clearTimeout(t);
      finishTimers.clear();
      delivery.cancelPending();
      delivery.sent.length = 0;
    },
    async close() {
      for (const t of finishTimers) clearTimeout(t);
      finishTimers.clear();
      await delivery.close();
      await app.close();
    },
  };
}
