/**
 * Fake PixVerse Platform API (docs.platform.pixverse.ai, `/openapi/v2`), faithful enough for the
 * gateway's adapter tests, benchmarks and its no-credentials start. Source of truth:
 * shared/reference/providers.md section 3 and seed 004. Where PixVerse's behaviour is
 * unconfirmed, the choice made here is marked UNCONFIRMED.
 */
import { createHmac, randomBytes, randomInt, randomUUID } from 'node:crypto';
import Fastify, { type FastifyRequest } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import { MediaStore } from '../shared/media.js';
import { SAMPLE_MP4 } from '../shared/sample-mp4.js';
import { recordCalls } from '../shared/record-calls.js';
import type { EmulatorHandle, RecordedCall } from '../shared/types.js';
import {
  EmulatorWebhooks,
  type SentWebhook,
  type WebhookDeliveryOptions,
} from '../shared/webhooks.js';

export interface PixverseEmulatorOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Accepted `API-KEY` values. Default `['pixverse-emulator-key']`. */
  apiKeys?: string[];
  /** Default `/openapi/v2`. */
  pathPrefix?: string;
  /** `GET /video/result/:id` answers status 5 this many times per video, then the final status. Default 2. */
  pollsUntilDone?: number;
  /** Videos allowed at status 5 at once; one more create answers ErrCode 500044. Default 5. */
  maxConcurrent?: number;
  /** A reused `Ai-trace-id`: `reject` (ErrCode 400033) or `replay` the first answer. Default `reject`. */
  reusedTraceId?: 'reject' | 'replay';
  /** Lifetime of output video URLs; unset = never expire. */
  mediaTtlMs?: number;
  /**
   * Videos also reach their final status on their own this long after the create, polled or
   * not (so that webhooks come without polls). Unset: only polls move them.
   */
  finishAfterMs?: number;
  /** Webhooks created "in the console": `webhook_id` → where to POST and the signing secret. */
  webhooks?: Record<string, PixverseWebhookTarget>;
  /** How webhooks are POSTed (delay, duplicates, none). Default: once, at once. */
  webhookDelivery?: WebhookDeliveryOptions;
}

/** One webhook of PixVerse's console. */
export interface PixverseWebhookTarget {
  url: string;
  secret: string;
}

export type PixverseOutcome =
  | 'success'
  | 'moderation'
  | 'failed'
  | 'deleted'
  /** `afterMs`: the video also ends on its own that long after the create. */
  | { status: 1 | 6 | 7 | 8; afterPolls?: number; afterMs?: number };

export type PixverseFault =
  | { kind: 'http500' }
  | { kind: 'errcode'; code: number; msg?: string }
  | { kind: 'http429'; retryAfter?: number };

export interface PixverseEmulator extends EmulatorHandle {
  /** `url + pathPrefix`, the API base a client is configured with. */
  readonly baseUrl: string;
  /** Script the outcome of the NEXT generate call(s) (FIFO queue); default outcome 'success'. */
  scriptNext(outcome: PixverseOutcome): void;
  /** Force the next request(s) on any API route to fail in a transport/HTTP way. */
  failNext(fault: PixverseFault, count?: number): void;
  /** Number of accepted generate calls (text + img). */
  readonly creates: number;
  /** Every `Ai-trace-id` seen, in order. */
  readonly traceIds: string[];
  videoStatus(id: number): number | undefined;
  /** Creates (or replaces) a webhook "in the console" (its URL is known once genway listens). */
  configureWebhook(webhookId: string, target: PixverseWebhookTarget): void;
  /** Every webhook POST so far (refused non-loopback targets included), with the answers. */
  sentWebhooks(): SentWebhook[];
  /** Changes how later webhooks are delivered. */
  webhookDelivery(options: WebhookDeliveryOptions): void;
  /** Resolves once every scheduled webhook POST has been answered. */
  webhooksIdle(): Promise<void>;
  /** Clear calls, scripts, faults, counters, uploaded images and videos. */
  reset(): void;
}

/** Status codes of `Resp.status` [P1]: 1 success, 5 generating, 6 deleted, 7 moderation, 8 failed. */
const GENERATING = 5;
/** Generations "stuck" at status 5 stop counting toward the concurrency cap after 10 min [P2]. */
const STUCK_RELEASE_MS = 10 * 60_000;
const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
const MAX_PROMPT_CHARS = 2048;
const MAX_SEED = 2_147_483_647;

/** ErrMsg texts, paraphrasing the official error-code table [P2]; PixVerse's exact wording is unknown. */
const ERR_MSG: Record<number, string> = {
  400011: 'empty parameter',
  400013: 'invalid binding request',
  400017: 'invalid parameter',
  400018: 'prompt exceeds 2048 characters',
  400019: 'negative prompt exceeds 2048 characters',
  400032: 'invalid image ID',
  400033: 'Invalid traceId',
  500008: 'data not found',
  500030: 'image too large',
  500032: 'invalid image format',
  500042: 'invalid image path',
  500043: 'all credits have been used up',
  500044: 'concurrent generation limit reached',
  500054: 'image failed content moderation',
  500069: 'system is overloaded',
  500090: 'insufficient balance',
  99999: 'unknown error',
};
// UNCONFIRMED: the docs only say "Invalid API-KEY"; the official MCP treats 10001-10005 as auth errors.
const AUTH_ERR = { code: 10002, msg: 'Invalid API-KEY' };

const MODELS = ['v3.5', 'v4', 'v4.5', 'v5', 'v5.5', 'v5.6', 'v6', 'c1'] as const;
type Model = (typeof MODELS)[number];
/** `motion_mode: fast` exists only before v5. */
const FAST_MODELS: readonly Model[] = ['v3.5', 'v4', 'v4.5'];
const QUALITIES = { '360p': 360, '540p': 540, '720p': 720, '1080p': 1080 } as const;
type Quality = keyof typeof QUALITIES;
const ASPECT_RATIOS = {
  '16:9': [16, 9],
  '4:3': [4, 3],
  '1:1': [1, 1],
  '3:4': [3, 4],
  '9:16': [9, 16],
} as const;
type AspectRatio = keyof typeof ASPECT_RATIOS;
const STYLES = ['anime', '3d_animation', 'clay', 'day', 'comic', 'cyberpunk'];
const THINKING_TYPES = ['enabled', 'disabled', 'auto'];
const CAMERA_MOVEMENTS = [
  'horizontal_left', 'horizontal_right', 'vertical_up', 'vertical_down', 'zoom_in', 'zoom_out',
  'crane_up', 'quickly_zoom_in', 'quickly_zoom_out', 'smooth_zoom_in', 'camera_rotation',
  'robo_arm', 'super_dolly_out', 'whip_pan', 'hitchcock', 'left_follow', 'right_follow',
  'pan_left', 'pan_right', 'fix_bg',
]; // prettier-ignore
const BOOLEAN_FIELDS = [
  'sound_effect_switch',
  'lip_sync_switch',
  'lip_sync_tts_switch',
  'generate_audio_switch',
  'generate_multi_clip_switch',
  'water_mark',
];
const STRING_FIELDS = ['sound_effect_content', 'lip_sync_tts_content', 'lip_sync_tts_speaker_id'];

/** Durations per model from seed 004 (v3.5 at 1080p: no 8 s; v5.5/v5.6 at 1080p: no 10 s). */
function allowedDurations(model: Model, quality: Quality): number[] {
  switch (model) {
    case 'v3.5':
      return quality === '1080p' ? [5] : [5, 8];
    case 'v4':
    case 'v4.5':
    case 'v5':
      return [5, 8];
    case 'v5.5':
    case 'v5.6':
      return quality === '1080p' ? [5, 8] : [5, 8, 10];
    case 'v6':
    case 'c1':
      return Array.from({ length: 15 }, (_, i) => i + 1);
  }
}

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A business error: PixVerse answers these as HTTP 200 with `ErrCode ≠ 0`. */
class PixverseError extends Error {
  constructor(
    readonly code: number,
    detail?: string,
  ) {
    const base = ERR_MSG[code] ?? 'error';
    super(detail ? `${base}: ${detail}` : base);
  }
}

function ok(resp: unknown): Answer {
  return { status: 200, body: { ErrCode: 0, ErrMsg: 'success', Resp: resp } };
}

function errAnswer(code: number, msg: string): Answer {
  // `Resp: null` on errors follows a relay's documented PixVerse error sample (Tencent Cloud).
  return { status: 200, body: { ErrCode: code, ErrMsg: msg, Resp: null } };
}

interface Video {
  id: number;
  duration: number;
  status: number;
  polls: number;
  pollsUntilDone: number;
  finalStatus: 1 | 6 | 7 | 8;
  prompt: string;
  negativePrompt: string;
  seed: number;
  style: string;
  quality: Quality;
  aspectRatio: AspectRatio;
  webhookId?: string;
  url: string;
  createTime: string;
  modifyTime: string;
  createdAt: number;
}

interface UploadedForm {
  fields: Record<string, string>;
  files: { field: string; filename: string; mimetype: string; data: Buffer }[];
}

function isoSeconds(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** PNG, JPEG and WebP by their magic bytes. */
function sniffImage(data: Buffer): boolean {
  const png = data.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  const jpeg = data.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff]));
  const webp =
    data.subarray(0, 4).toString('latin1') === 'RIFF' &&
    data.subarray(8, 12).toString('latin1') === 'WEBP';
  return png || jpeg || webp;
}

const IMAGE_MIMETYPES = ['image/png', 'image/jpeg', 'image/jpg', 'image/webp'];

function outputSize(quality: Quality, aspect: AspectRatio): { width: number; height: number } {
  const short = QUALITIES[quality];
  const [w, h] = ASPECT_RATIOS[aspect];
  return w >= h
    ? { width: Math.round((short * w) / h), height: short }
    : { width: short, height: Math.round((short * h) / w) };
}

function normalizeOutcome(outcome: PixverseOutcome): {
  status: 1 | 6 | 7 | 8;
  afterPolls?: number;
  afterMs?: number;
} {
  switch (outcome) {
    case 'success':
      return { status: 1 };
    case 'moderation':
      return { status: 7 };
    case 'failed':
      return { status: 8 };
    case 'deleted':
      return { status: 6 };
    default:
      return outcome;
  }
}

/** Typed readers for the JSON body; a wrong JSON type is 400013, a missing required value 400011. */
class Fields {
  constructor(private readonly body: Record<string, unknown>) {}

  /** Go-style binding: `null` reads as absent. */
  private raw(key: string): unknown {
    return this.body[key] ?? undefined;
  }

  string(key: string, required: true): string;
  string(key: string, required?: boolean): string | undefined;
  string(key: string, required = false): string | undefined {
    const v = this.raw(key);
    if (v === undefined || v === '') {
      if (required) throw new PixverseError(400011, `${key} is required`);
      return undefined;
    }
    if (typeof v !== 'string') throw new PixverseError(400013, `${key} must be a string`);
    return v;
  }

  int(key: string, required: true): number;
  int(key: string, required?: boolean): number | undefined;
  int(key: string, required = false): number | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (required) throw new PixverseError(400011, `${key} is required`);
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new PixverseError(400013, `${key} must be an integer`);
    }
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v !== undefined && typeof v !== 'boolean') {
      throw new PixverseError(400013, `${key} must be a boolean`);
    }
    return v as boolean | undefined;
  }

  intArray(key: string): number[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
      throw new PixverseError(400013, `${key} must be an array of integers`);
    }
    return v as number[];
  }

  /** The docs' example sends `"webhook_id":"1234"`; accept an integer too. */
  stringOrInt(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v))) return String(v);
    throw new PixverseError(400013, `${key} must be a string`);
  }
}

function oneOf<T extends string>(key: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new PixverseError(400017, `${key} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/**
 * The signed text of a webhook: `"{ts}\n{nonce}\n{urlencoded body fields}"` [P2]. UNCONFIRMED
 * detail (the docs do not say): fields sorted by name, form-urlencoded, booleans `true`/`false`.
 */
function webhookSignedText(ts: string, nonce: string, body: Record<string, unknown>): string {
  const fields = Object.keys(body)
    .sort()
    .map((k): [string, string] => [
      k,
      body[k] === null || body[k] === undefined ? '' : String(body[k]),
    ]);
  return `${ts}\n${nonce}\n${new URLSearchParams(fields).toString()}`;
}

/** Credits of a video [P5 model-pricing]: 5 s at 360p/540p 45, 720p 60, 1080p 120; 8 s+ double. */
function creditsOf(video: Video, duration: number): number {
  const base = video.quality === '1080p' ? 120 : video.quality === '720p' ? 60 : 45;
  return duration > 5 ? base * 2 : base;
}

export async function startPixverseEmulator(
  opts: PixverseEmulatorOptions = {},
): Promise<PixverseEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const apiKeys = new Set(opts.apiKeys ?? ['pixverse-emulator-key']);
  const prefix = opts.pathPrefix ?? '/openapi/v2';
  const pollsUntilDone = opts.pollsUntilDone ?? 2;
  const maxConcurrent = opts.maxConcurrent ?? 5;
  const reusedTraceId = opts.reusedTraceId ?? 'reject';

  let url = '';
  const media = new MediaStore(() => url);
  const calls: RecordedCall[] = [];
  const traceIds: string[] = [];
  /** First answer per trace id, kept as a promise so a concurrent duplicate replays it too. */
  const traceAnswers = new Map<string, Promise<Answer>>();
  const faults: PixverseFault[] = [];
  const scripts: PixverseOutcome[] = [];
  /** img_ids handed out by uploads; generation accepts only these. */
  const images = new Set<number>();
  const videos = new Map<number, Video>();
  let creates = 0;
  // Random bases so ids from two emulator runs (e.g. a restarted gateway) do not collide.
  let nextImgId = 4_000_000 + randomInt(1_000_000);
  let nextVideoId = 300_000_000_000 + randomInt(100_000_000_000);
  const consoleWebhooks = new Map(Object.entries(opts.webhooks ?? {}));
  const delivery = new EmulatorWebhooks(opts.webhookDelivery);
  const finishTimers = new Set<NodeJS.Timeout>();

  /** A video leaves status 5: its file is published and its webhook (if any) goes out. */
  function finish(video: Video): void {
    if (video.status !== GENERATING) return;
    video.status = video.finalStatus;
    video.modifyTime = isoSeconds();
    if (video.status === 1) video.url = media.addMp4({ ttlMs: opts.mediaTtlMs });
    const target = video.webhookId === undefined ? undefined : consoleWebhooks.get(video.webhookId);
    if (!target) return;
    // The documented example: id as a string, size, has_audio, credits [P2 how-to-use-webhook].
    const fields: Record<string, unknown> = {
      id: String(video.id),
      status: video.status,
      url: video.url,
      size: video.status === 1 ? SAMPLE_MP4.length : 0,
      has_audio: false,
      credits: video.status === 1 ? creditsOf(video, video.duration) : 0,
    };
    const body = JSON.stringify(fields);
    delivery.send(target.url, body, () => {
      const ts = String(Math.floor(Date.now() / 1000));
      const nonce = randomBytes(16).toString('hex');
      const signature = createHmac('sha256', target.secret)
        .update(webhookSignedText(ts, nonce, fields))
        .digest('base64');
      return {
        'content-type': 'application/json',
        'webhook-timestamp': ts,
        'webhook-nonce': nonce,
        'webhook-signature': signature,
        'ai-trace-id': randomUUID(),
      };
    });
  }

  const app = Fastify({ logger: false, bodyLimit: 32 * 1024 * 1024 });
  await app.register(fastifyMultipart, {
    limits: { fileSize: 32 * 1024 * 1024, files: 4, fields: 20 },
  });
  media.register(app);

  const callOf = recordCalls(app, calls);
  app.addHook('onRequest', async (req) => {
    const trace = req.headers['ai-trace-id'];
    if (typeof trace === 'string') traceIds.push(trace);
  });

  app.setErrorHandler((error: { code?: string; statusCode?: number }, _req, reply) => {
    // A body that is not JSON fails Go-side binding, i.e. ErrCode 400013 on HTTP 200.
    if (error.code?.startsWith('FST_ERR_CTP_') && error.code !== 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const a = errAnswer(400013, ERR_MSG[400013]!);
      return reply.code(a.status).send(a.body);
    }
    if (error.code === 'FST_REQ_FILE_TOO_LARGE') {
      const a = errAnswer(500030, ERR_MSG[500030]!);
      return reply.code(a.status).send(a.body);
    }
    const a = errAnswer(99999, ERR_MSG[99999]!);
    return reply.code(error.statusCode ?? 500).send(a.body);
  });

  /** Consume a whole multipart body into fields and file buffers. */
  async function readForm(req: FastifyRequest): Promise<UploadedForm> {
    const form: UploadedForm = { fields: {}, files: [] };
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        const data = await part.toBuffer();
        form.files.push({
          field: part.fieldname,
          filename: part.filename,
          mimetype: part.mimetype,
          data,
        });
      } else {
        form.fields[part.fieldname] = String(part.value);
      }
    }
    return form;
  }

  /** Order of checks: injected fault, API-KEY, Ai-trace-id (missing, reused), then the handler. */
  async function answer(req: FastifyRequest, handle: () => Promise<Answer>): Promise<Answer> {
    const fault = faults.shift();
    if (fault?.kind === 'http500') return { status: 500, body: 'Internal Server Error' };
    if (fault?.kind === 'http429') {
      const headers: Record<string, string> =
        fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) };
      return { status: 429, body: 'Too Many Requests', headers };
    }
    if (fault?.kind === 'errcode') {
      return errAnswer(fault.code, fault.msg ?? ERR_MSG[fault.code] ?? 'error');
    }

    const key = req.headers['api-key'];
    if (typeof key !== 'string' || !apiKeys.has(key)) return errAnswer(AUTH_ERR.code, AUTH_ERR.msg);

    // UNCONFIRMED: the ErrCodes for a missing (400017) or reused (400033) trace id. The docs ask
    // for a UUID; the format is not checked here.
    const trace = req.headers['ai-trace-id'];
    if (typeof trace !== 'string' || trace === '') {
      return errAnswer(400017, `${ERR_MSG[400017]}: Ai-trace-id header is required`);
    }
    const first = traceAnswers.get(trace);
    if (first) return reusedTraceId === 'replay' ? first : errAnswer(400033, ERR_MSG[400033]!);

    const result = handle().catch((e: unknown) => {
      if (e instanceof PixverseError) return errAnswer(e.code, e.message);
      throw e;
    });
    traceAnswers.set(trace, result);
    return result;
  }

  function route(
    method: 'GET' | 'POST',
    path: string,
    handle: (req: FastifyRequest, form?: UploadedForm) => Promise<Answer>,
  ) {
    app.route({
      method,
      url: prefix + path,
      handler: async (req, reply) => {
        // Read a multipart body before any check, as the real server receives it whole; an
        // early answer on an unread upload would leave the client writing into a closed socket.
        const form = req.isMultipart() ? await readForm(req) : undefined;
        const call = callOf(req);
        if (form && call) {
          // Record what was sent, not the bytes.
          call.body = {
            fields: form.fields,
            files: form.files.map(({ field, filename, mimetype, data }) => ({
              field,
              filename,
              mimetype,
              size: data.length,
            })),
          };
        }
        const a = await answer(req, () => handle(req, form));
        return reply
          .code(a.status)
          .headers(a.headers ?? {})
          .send(a.body);
      },
    });
  }

  route('POST', '/image/upload', async (_req, form) => {
    if (!form) throw new PixverseError(400013, 'multipart/form-data body expected');
    const file = form.files.find((f) => f.field === 'image');
    const imageUrl = form.fields['image_url'];
    if (file) {
      if (file.data.length >= MAX_UPLOAD_BYTES) throw new PixverseError(500030);
      if (!sniffImage(file.data) && !IMAGE_MIMETYPES.includes(file.mimetype)) {
        throw new PixverseError(500032);
      }
    } else if (imageUrl) {
      // The emulator never fetches the URL (no network); it only checks the scheme.
      if (!/^https?:\/\//i.test(imageUrl)) throw new PixverseError(500042);
    } else {
      throw new PixverseError(400011, 'image or image_url is required');
    }
    // Documented moderation reject: HTTP 500 with a lower-case envelope [P1 Upload Image].
    if (`${imageUrl ?? ''} ${file?.filename ?? ''}`.toLowerCase().includes('moderation')) {
      return { status: 500, body: { err_code: 500054, err_msg: ERR_MSG[500054], resp: '' } };
    }
    const imgId = nextImgId++;
    // A re-hosted copy: a real PNG under the emulator's media path (not the uploaded bytes).
    const imgUrl = media.addPng();
    images.add(imgId);
    return ok({ img_id: imgId, img_url: imgUrl });
  });

  function generate(kind: 'text' | 'img') {
    return async (req: FastifyRequest): Promise<Answer> => {
      const body = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new PixverseError(400013, 'JSON object body expected');
      }
      const f = new Fields(body as Record<string, unknown>);

      const prompt = f.string('prompt', true);
      const negativePrompt = f.string('negative_prompt') ?? '';
      const model = oneOf('model', f.string('model', true), MODELS);
      const quality = oneOf(
        'quality',
        f.string('quality', true),
        Object.keys(QUALITIES) as Quality[],
      );
      const duration = f.int('duration', true);
      const aspectRaw = f.string('aspect_ratio', kind === 'text');
      const aspect =
        aspectRaw === undefined
          ? '16:9'
          : oneOf('aspect_ratio', aspectRaw, Object.keys(ASPECT_RATIOS) as AspectRatio[]);
      const motionMode = oneOf('motion_mode', f.string('motion_mode') ?? 'normal', [
        'normal',
        'fast',
      ]);
      const seed = f.int('seed') ?? randomInt(MAX_SEED);
      const style = f.string('style');
      const camera = f.string('camera_movement');
      const thinking = f.string('thinking_type');
      f.int('template_id');
      for (const key of BOOLEAN_FIELDS) f.bool(key);
      for (const key of STRING_FIELDS) f.string(key);
      const webhookId = f.stringOrInt('webhook_id');
      // Multi-image templates send `img_ids` instead of `img_id`.
      const imgIds = kind === 'img' ? (f.intArray('img_ids') ?? []) : [];
      const imgId = kind === 'img' ? f.int('img_id', imgIds.length === 0) : undefined;

      if (prompt.length > MAX_PROMPT_CHARS) throw new PixverseError(400018);
      if (negativePrompt.length > MAX_PROMPT_CHARS) throw new PixverseError(400019);
      if (!allowedDurations(model, quality).includes(duration)) {
        throw new PixverseError(
          400017,
          `duration ${duration} is not supported by ${model} at ${quality}`,
        );
      }
      if (motionMode === 'fast') {
        if (!FAST_MODELS.includes(model)) {
          throw new PixverseError(400017, `fast motion_mode is not supported by ${model}`);
        }
        if (duration !== 5) throw new PixverseError(400017, 'fast motion_mode supports only 5 s');
        if (quality === '1080p') {
          throw new PixverseError(400017, 'fast motion_mode does not support 1080p');
        }
      }
      if (seed < 0 || seed > MAX_SEED) {
        throw new PixverseError(400017, `seed must be 0-${MAX_SEED}`);
      }
      // Values are checked; which models honour style/camera_movement is left lenient (UNCONFIRMED).
      if (style !== undefined) oneOf('style', style, STYLES);
      if (camera !== undefined) oneOf('camera_movement', camera, CAMERA_MOVEMENTS);
      if (thinking !== undefined) oneOf('thinking_type', thinking, THINKING_TYPES);
      for (const id of [...(imgId === undefined ? [] : [imgId]), ...imgIds]) {
        if (!images.has(id)) throw new PixverseError(400032, `img_id ${id} not found`);
      }

      const now = Date.now();
      const generating = [...videos.values()].filter(
        (v) => v.status === GENERATING && now - v.createdAt < STUCK_RELEASE_MS,
      ).length;
      if (generating >= maxConcurrent) throw new PixverseError(500044);

      const outcome = normalizeOutcome(scripts.shift() ?? 'success');
      const video: Video = {
        duration,
        id: nextVideoId++,
        status: GENERATING,
        polls: 0,
        pollsUntilDone: outcome.afterPolls ?? pollsUntilDone,
        finalStatus: outcome.status,
        prompt,
        negativePrompt,
        seed,
        style: style ?? '',
        quality,
        aspectRatio: aspect,
        webhookId,
        url: '',
        createTime: isoSeconds(now),
        modifyTime: isoSeconds(now),
        createdAt: now,
      };
      videos.set(video.id, video);
      creates++;
      const afterMs = outcome.afterMs ?? opts.finishAfterMs;
      if (afterMs !== undefined) {
        const timer = setTimeout(() => {
          finishTimers.delete(timer);
          if (videos.get(video.id) === video) finish(video);
        }, afterMs);
        finishTimers.add(timer);
      }
      return ok({ video_id: video.id });
    };
  }

  route('POST', '/video/text/generate', generate('text'));
  route('POST', '/video/img/generate', generate('img'));

  route('GET', '/video/result/:id', async (req) => {
    const { id } = req.params as { id: string };
    const video = /^\d+$/.test(id) ? videos.get(Number(id)) : undefined;
    if (!video) throw new PixverseError(500008);
    video.polls++;
    if (video.status === GENERATING && video.polls > video.pollsUntilDone) finish(video);
    const done = video.status === 1;
    const { width, height } = outputSize(video.quality, video.aspectRatio);
    return ok({
      id: video.id,
      status: video.status,
      url: video.url,
      prompt: video.prompt,
      negative_prompt: video.negativePrompt,
      seed: video.seed,
      style: video.style,
      resolution_ratio: QUALITIES[video.quality],
      outputWidth: width,
      outputHeight: height,
      size: done ? SAMPLE_MP4.length : 0,
      create_time: video.createTime,
      modify_time: video.modifyTime,
    });
  });

  route('GET', '/account/balance', async () =>
    ok({ account_id: 100001, credit_monthly: 10_000, credit_package: 5_000 }),
  );

  await app.listen({ host, port: opts.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    baseUrl: url + prefix,
    calls,
    async close() {
      for (const t of finishTimers) clearTimeout(t);
      finishTimers.clear();
      await delivery.close();
      await app.close();
    },
    configureWebhook(webhookId, target) {
      consoleWebhooks.set(webhookId, target);
    },
    sentWebhooks: () => [...delivery.sent],
    webhookDelivery: (options) => delivery.configure(options),
    webhooksIdle: () => delivery.idle(),
    scriptNext: (outcome) => void scripts.push(outcome),
    failNext: (fault, count = 1) => {
      for (let i = 0; i < count; i++) faults.push(fault);
    },
    get creates() {
      return creates;
    },
    get traceIds() {
      return traceIds;
    },
    videoStatus: (id) => videos.get(id)?.status,
    reset: () => {
      calls.length = 0;
      traceIds.length = 0;
      traceAnswers.clear();
      faults.length = 0;
      scripts.length = 0;
      images.clear();
      videos.clear();
      creates = 0;
      for (const t of finishTimers) clearTimeout(t);
      finishTimers.clear();
      delivery.cancelPending();
      delivery.sent.length = 0;
    },
  };
}
