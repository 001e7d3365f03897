/**
 * A fake of Replicate's predictions API (api.replicate.com/v1, or the `/replicate/v1` relay) for
 * tests, benchmarks and the gateway's no-credentials start. Predictions move on GET polls (and
 * every 100 ms while a `Prefer: wait` holds the create); otherwise only the Cancel-After deadline
 * and data retention follow the wall clock (and `autoAdvanceMs`, when set).
 * Webhooks: a prediction created with `webhook` POSTs itself there on `start` and `completed`
 * (as `webhook_events_filter` allows), signed the Standard Webhooks way with the emulator's
 * `whsec_` secret (`GET /webhooks/default/secret`), to loopback URLs only.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { MediaStore } from '../shared/media.js';
import { recordCalls } from '../shared/record-calls.js';
import type { EmulatorHandle, RecordedCall } from '../shared/types.js';
import {
  EmulatorWebhooks,
  type SentWebhook,
  type WebhookDeliveryOptions,
} from '../shared/webhooks.js';
import {
  Lifecycle,
  isSettled,
  isTerminal,
  renderPrediction,
  type Outcome,
  type Prediction,
} from './prediction.js';

export type { Outcome as ReplicateOutcome } from './prediction.js';

export interface ReplicateEmulatorOptions {
  host?: string;
  port?: number;
  /** Accepted API tokens (as `Bearer <t>` or `Token <t>`). Default `['r8_emulator_token']`. */
  tokens?: string[];
  /** Where the API is mounted: `/v1` like api.replicate.com, `/replicate/v1` like the relay. */
  prefix?: string;
  /**
   * GET polls answered `starting` before the prediction starts processing. Default 1. While a
   * `Prefer: wait` holds a create, every 100 ms counts as one poll.
   */
  pollsStarting?: number;
  /** GET polls answered `processing` before the prediction ends. Default 1. */
  pollsProcessing?: number;
  /** After completed_at + this, output is null and data_removed true. Default 1 h. */
  dataRetentionMs?: number;
  /** Known 64-hex version ids. */
  versions?: Record<string, { owner: string; name: string }>;
  /** `owner/name` of official models, usable via `/models/{owner}/{name}/predictions`. */
  officialModels?: string[];
  /** `owner/name` of models whose default output is one MP4 URL instead of a list of PNGs. */
  videoModels?: string[];
  /** Page size of `GET /predictions`. Default 100, like Replicate. */
  pageSize?: number;
  /**
   * Multiplies the durations a client sends in headers (`Prefer: wait=N`, `Cancel-After`), so a
   * test can see a 5 s deadline pass in 5 ms with `timeScale: 0.001`. Default 1.
   */
  timeScale?: number;
  /** Serve HTTPS; the official client only wraps `https:` output URLs in FileOutput objects. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * Predictions also advance one step this often on their own, polled or not, as real ones
   * do (so that webhooks come without polls). Unset: only polls and waits move them.
   */
  autoAdvanceMs?: number;
  /** The account's webhook signing secret (`whsec_…`); a random one when unset. */
  webhookSecret?: string;
  /** How webhooks are POSTed (delay, duplicates, none). Default: once, at once. */
  webhooks?: WebhookDeliveryOptions;
}

export type ReplicateFault =
  | { kind: 'http429'; retryAfter?: number }
  | { kind: 'http5xx'; status?: number }
  | { kind: 'http402' };

export interface ReplicateEmulator extends EmulatorHandle {
  /** `url` + prefix: what REPLICATE_BASE_URL would be. */
  readonly baseUrl: string;
  /** How the next accepted creates end (FIFO); unscripted ones succeed. */
  scriptNext(outcome: Outcome): void;
  /**
   * Answer the next `count` (default 1) API requests with this fault. A 402 waits for the next
   * create (billing is checked when a model is run); 429 and 5xx hit whatever comes first.
   */
  failNext(fault: ReplicateFault, count?: number): void;
  /** Creates accepted so far. */
  readonly creates: number;
  /** The `whsec_` secret webhooks are signed with (also at `GET /webhooks/default/secret`). */
  readonly webhookSecret: string;
  /** Every webhook POST so far (refused non-loopback targets included), with the answers. */
  sentWebhooks(): SentWebhook[];
  /** Changes how later webhooks are delivered. */
  webhookDelivery(options: WebhookDeliveryOptions): void;
  /** Resolves once every scheduled webhook POST has been answered. */
  webhooksIdle(): Promise<void>;
  /** Forget predictions, scripts, faults, calls and the create count. */
  reset(): void;
}

const DEFAULT_VERSIONS: Record<string, { owner: string; name: string }> = {
  ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4: {
    owner: 'stability-ai',
    name: 'stable-diffusion',
  },
  '7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc': {
    owner: 'stability-ai',
    name: 'sdxl',
  },
  beecf59c4aee8d81bf04f0381033dfa10dc16e845b4ae00d281e2fa377e48a9f: {
    owner: 'lucataco',
    name: 'animate-diff',
  },
};
const DEFAULT_OFFICIAL_MODELS = [
  'black-forest-labs/flux-schnell',
  'black-forest-labs/flux-dev',
  'minimax/video-01',
];
const DEFAULT_VIDEO_MODELS = ['lucataco/animate-diff', 'minimax/video-01'];

/** While a `Prefer: wait` holds a create, the prediction advances one poll's worth this often. */
const WAIT_STEP_MS = 100;
/** `data:` URI inputs reach 10 MB (the official client's inline limit); Fastify's default is 1 MiB. */
const BODY_LIMIT = 32 * 1024 * 1024;

/** An error answered as Replicate's problem-details body (and optional headers). */
class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.detail === 'string' ? body.detail : `HTTP ${status}`);
  }
}

function problem(status: number, title: string, detail: string, extra = {}): HttpProblem {
  return new HttpProblem(status, { title, detail, status, ...extra });
}

const notFound = () => problem(404, 'Not found', 'Not found.');

const OptionalFields = {
  webhook: z.url().optional(),
  webhook_events_filter: z.array(z.enum(['start', 'output', 'logs', 'completed'])).optional(),
  stream: z.boolean().optional(),
};
const Input = z.record(z.string(), z.unknown());
const VersionRequest = z.strictObject({ version: z.string(), input: Input, ...OptionalFields });
const ModelRequest = z.strictObject({ input: Input, ...OptionalFields });

/** Replicate's 422 shape for a body that fails its JSON schema. */
function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const invalid = parsed.error.issues.flatMap((issue) => {
    const field = issue.path.join('.') || '(root)';
    return issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          type: 'additional_property_not_allowed',
          field,
          description: `Additional property ${key} is not allowed`,
        }))
      : [{ type: issue.code, field, description: issue.message }];
  });
  throw invalidFields(invalid);
}

function invalidFields(fields: { type: string; field: string; description: string }[]) {
  const detail = fields.map((f) => `- ${f.field}: ${f.description}\n`).join('');
  return problem(422, 'Input validation failed', detail, { invalid_fields: fields });
}

/** `Prefer: wait` → 60 s, `wait=N` → N s clamped to 1..60; undefined when the client won't wait. */
function preferWaitSeconds(header: string | string[] | undefined): number | undefined {
  for (const token of [header ?? []].flat().join(',').split(',')) {
    const m = /^wait(?:=(\d+))?$/.exec(token.trim());
    if (m) return m[1] === undefined ? 60 : Math.min(Math.max(Number(m[1]), 1), 60);
  }
  return undefined;
}

/** `Cancel-After: 30s | 5m | 1h30m` in seconds; at least 5 s. */
function cancelAfterSeconds(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = [header].flat().join('').trim();
  const m = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(value);
  const seconds =
    m && value ? Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : NaN;
  if (!(seconds >= 5)) {
    throw problem(
      422,
      'Invalid Cancel-After header',
      `Cancel-After must be a duration of at least 5s, like 30s, 5m or 1h30m; got ${JSON.stringify(value)}`,
    );
  }
  return seconds;
}

/** Stable Diffusion and FLUX both take 1..4 outputs; a real run outside that fails validation. */
function checkNumOutputs(input: Record<string, unknown>): void {
  const n = input.num_outputs;
  if (n === undefined || (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 4)) return;
  throw invalidFields([
    { type: 'number_one_of', field: 'input.num_outputs', description: 'Must be between 1 and 4' },
  ]);
}

const Cursor = z.union([
  z.strictObject({ before: z.number() }),
  z.strictObject({ after: z.number() }),
]);
type Cursor = z.infer<typeof Cursor>;

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

function decodeCursor(cursor: string): Cursor {
  try {
    return Cursor.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString()));
  } catch {
    throw problem(400, 'Bad request', 'Invalid cursor.');
  }
}

interface Target {
  model: string;
  version: string;
}

type WebhookEvent = 'start' | 'output' | 'logs' | 'completed';

/** Where a prediction's webhooks go, and which of them went already. */
interface Hook {
  url: string;
  /** Replicate sends every event when no filter is given. */
  events: ReadonlySet<WebhookEvent>;
  sent: Set<'start' | 'completed'>;
}

export async function startReplicateEmulator(
  opts: ReplicateEmulatorOptions = {},
): Promise<ReplicateEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const prefix = opts.prefix ?? '/v1';
  const tokens = new Set(opts.tokens ?? ['r8_emulator_token']);
  const versions = opts.versions ?? DEFAULT_VERSIONS;
  const officialModels = new Set(opts.officialModels ?? DEFAULT_OFFICIAL_MODELS);
  const videoModels = new Set(opts.videoModels ?? DEFAULT_VIDEO_MODELS);
  const pageSize = opts.pageSize ?? 100;
  const timeScale = opts.timeScale ?? 1;
  const dataRetentionMs = opts.dataRetentionMs ?? 60 * 60 * 1000;

  let origin = '';
  const media = new MediaStore(() => origin);
  const lifecycle = new Lifecycle({
    pollsStarting: opts.pollsStarting ?? 1,
    pollsProcessing: opts.pollsProcessing ?? 1,
    dataRetentionMs,
    media,
  });
  const predictions = new Map<string, Prediction>();
  const script: Outcome[] = [];
  const faults: ReplicateFault[] = [];
  const calls: RecordedCall[] = [];
  let creates = 0;
  let closing = false;
  const webhookSecret = opts.webhookSecret ?? `whsec_${randomBytes(24).toString('base64')}`;
  const signer = new Webhook(webhookSecret);
  const delivery = new EmulatorWebhooks(opts.webhooks);
  const hooks = new Map<string, Hook>();

  /** Sends the webhooks a prediction's status now calls for (`start`, `completed`), once each. */
  function notify(p: Prediction): void {
    const hook = hooks.get(p.id);
    if (!hook) return;
    const due: ('start' | 'completed')[] = [];
    if (p.startedAt !== undefined && !hook.sent.has('start')) due.push('start');
    if (isTerminal(p.status) && !hook.sent.has('completed')) due.push('completed');
    for (const event of due) {
      hook.sent.add(event);
      if (!hook.events.has(event)) continue;
      const body = JSON.stringify(renderPrediction(p, origin + prefix, origin));
      // One message id per event; duplicate deliveries repeat it, as retries do.
      const id = `msg_${randomBytes(12).toString('hex')}`;
      delivery.send(hook.url, body, () => {
        const at = new Date();
        return {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': signer.sign(id, at, body),
        };
      });
    }
  }

  const render = (p: Prediction) => {
    lifecycle.refresh(p);
    notify(p);
    return renderPrediction(p, origin + prefix, origin);
  };

  const autoAdvance =
    opts.autoAdvanceMs === undefined
      ? undefined
      : setInterval(() => {
          for (const p of predictions.values()) {
            if (isTerminal(p.status)) continue;
            lifecycle.advance(p);
            notify(p);
          }
        }, opts.autoAdvanceMs);

  /** A version ref as Replicate accepts it: a 64-hex id, `owner/name:id`, or an official `owner/name`. */
  function resolveVersion(ref: string): Target | undefined {
    const m = /^(?:([^/:]+)\/([^/:]+):)?([0-9a-f]{64})$/.exec(ref);
    if (!m) return officialModels.has(ref) ? { model: ref, version: 'hidden' } : undefined;
    const [, owner, name, id = ''] = m;
    const known = versions[id];
    if (!known || (owner !== undefined && (known.owner !== owner || known.name !== name))) {
      return undefined;
    }
    return { model: `${known.owner}/${known.name}`, version: id };
  }

  async function holdUntilSettled(p: Prediction, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!closing && !isSettled(p)) {
      const left = until - Date.now();
      if (left <= 0) return;
      await sleep(Math.min(WAIT_STEP_MS, left));
      lifecycle.advance(p);
      notify(p);
    }
  }

  async function create(
    req: FastifyRequest,
    reply: FastifyReply,
    target: Target,
    input: Record<string, unknown>,
    webhook?: { url?: string; filter?: WebhookEvent[] },
  ) {
    const waitSeconds = preferWaitSeconds(req.headers.prefer);
    const cancelAfter = cancelAfterSeconds(req.headers['cancel-after']);
    const video = videoModels.has(target.model);
    if (!video) checkNumOutputs(input);
    const outcome = script.shift() ?? (video ? 'success-video' : 'success');
    const p = lifecycle.create({
      ...target,
      input,
      outcome,
      deadlineAt:
        cancelAfter === undefined ? undefined : Date.now() + cancelAfter * 1000 * timeScale,
    });
    predictions.set(p.id, p);
    if (webhook?.url) {
      const events = webhook.filter ?? ['start', 'output', 'logs', 'completed'];
      hooks.set(p.id, { url: webhook.url, events: new Set(events), sent: new Set() });
    }
    creates++;
    if (waitSeconds !== undefined) await holdUntilSettled(p, waitSeconds * 1000 * timeScale);
    const body = render(p);
    // 202 = "created, but not all outputs yet": only when a Prefer: wait ran out.
    return reply
      .code(waitSeconds !== undefined && !isSettled(p) ? 202 : 201)
      .header('location', body.urls.get)
      .send(body);
  }

  function find(id: string): Prediction {
    const p = predictions.get(id);
    if (!p) throw notFound();
    return p;
  }

  /** `all` is newest first; a cursor names the page just older (`before`) or newer (`after`) than a seq. */
  function pageOf(all: Prediction[], cursor: string | undefined): Prediction[] {
    if (cursor === undefined) return all.slice(0, pageSize);
    const c = decodeCursor(cursor);
    if ('before' in c) return all.filter((p) => p.seq < c.before).slice(0, pageSize);
    return all.filter((p) => p.seq > c.after).slice(-pageSize);
  }

  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, https: opts.tls ?? null });

  // The official client sends `Content-Type: application/json` with no body on cancel.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(problem(400, 'Bad request', 'The request body is not valid JSON.'), undefined);
    }
  });

  recordCalls(app, calls);

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode ?? 500;
    const p =
      err instanceof HttpProblem
        ? err
        : problem(status, STATUS_CODES[status] ?? 'Error', err.message);
    return reply.code(p.status).headers(p.headers).type('application/problem+json').send(p.body);
  });
  app.setNotFoundHandler(() => {
    throw notFound();
  });

  media.register(app);

  // urls.web: Replicate's page for the prediction; here a plain page, readable without auth.
  app.get<{ Params: { id: string } }>('/p/:id', async (req, reply) => {
    const body = render(find(req.params.id));
    const outputs = [body.output ?? []].flat().map((u) => `<li><a href="${u}">${u}</a></li>`);
    return reply
      .type('text/html')
      .send(
        `<h1>Prediction ${body.id}</h1><p>${body.model}: ${body.status}</p><ul>${outputs.join('')}</ul>`,
      );
  });

  await app.register(
    async (api) => {
      api.addHook('preHandler', async (req) => {
        const auth = req.headers.authorization;
        if (!auth) {
          throw problem(401, 'Unauthenticated', 'You did not pass an authentication token');
        }
        const token = /^(?:Bearer|Token)\s+(\S+)$/i.exec(auth)?.[1];
        if (token === undefined || !tokens.has(token)) {
          throw problem(401, 'Unauthenticated', 'You did not pass a valid authentication token');
        }
        const fault = faults[0];
        const isCreate = req.method === 'POST' && req.routeOptions.url?.endsWith('/predictions');
        if (!fault || (fault.kind === 'http402' && !isCreate)) return;
        faults.shift();
        throw faultProblem(fault);
      });

      api.post('/predictions', async (req, reply) => {
        const body = parseBody(VersionRequest, req.body);
        const target = resolveVersion(body.version);
        if (!target) {
          throw problem(
            422,
            'Invalid version or not permitted',
            "The specified version does not exist (or perhaps you don't have permission to use it?)",
          );
        }
        return create(req, reply, target, body.input, {
          url: body.webhook,
          filter: body.webhook_events_filter,
        });
      });

      api.post<{ Params: { owner: string; name: string } }>(
        '/models/:owner/:name/predictions',
        async (req, reply) => {
          const model = `${req.params.owner}/${req.params.name}`;
          if (!officialModels.has(model)) throw notFound();
          const body = parseBody(ModelRequest, req.body);
          return create(req, reply, { model, version: 'hidden' }, body.input, {
            url: body.webhook,
            filter: body.webhook_events_filter,
          });
        },
      );

      // The account's signing secret, as `GET /v1/webhooks/default/secret` answers it.
      api.get('/webhooks/default/secret', async () => ({ key: webhookSecret }));

      api.get<{ Params: { id: string } }>('/predictions/:id', async (req) => {
        const p = find(req.params.id);
        lifecycle.advance(p);
        return render(p);
      });

      api.post<{ Params: { id: string } }>('/predictions/:id/cancel', async (req) => {
        const p = find(req.params.id);
        lifecycle.cancel(p);
        return render(p);
      });

      api.get<{ Querystring: Record<string, string | undefined> }>('/predictions', async (req) => {
        const { cursor, created_after: after, created_before: before } = req.query;
        const all = [...predictions.values()]
          .filter((p) => after === undefined || p.createdAt > Date.parse(after))
          .filter((p) => before === undefined || p.createdAt < Date.parse(before))
          .reverse();
        const page = pageOf(all, cursor);
        const first = page[0];
        const last = page[page.length - 1];
        // Cursors are absolute URLs on the host the client used: the official client follows them as-is.
        const link = (c: Cursor) => {
          const url = new URL(req.url, `${req.protocol}://${req.host}`);
          url.searchParams.set('cursor', encodeCursor(c));
          return url.toString();
        };
        return {
          previous: first && all.some((p) => p.seq > first.seq) ? link({ after: first.seq }) : null,
          next: last && all.some((p) => p.seq < last.seq) ? link({ before: last.seq }) : null,
          results: page.map(render),
        };
      });
    },
    { prefix },
  );

  await app.listen({ host, port: opts.port ?? 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('unexpected listen address');
  const urlHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  origin = `${opts.tls ? 'https' : 'http'}://${urlHost}:${address.port}`;

  return {
    url: origin,
    baseUrl: origin + prefix,
    calls,
    get creates() {
      return creates;
    },
    scriptNext(outcome) {
      script.push(outcome);
    },
    failNext(fault, count = 1) {
      for (let i = 0; i < count; i++) faults.push(fault);
    },
    webhookSecret,
    sentWebhooks() {
      return [...delivery.sent];
    },
    webhookDelivery(options) {
      delivery.configure(options);
    },
    webhooksIdle: () => delivery.idle(),
    reset() {
      hooks.clear();
      delivery.cancelPending();
      delivery.sent.length = 0;
      predictions.clear();
      script.length = 0;
      faults.length = 0;
      calls.length = 0;
      creates = 0;
    },
    async close() {
      closing = true;
      clearInterval(autoAdvance);
      await delivery.close();
      await app.close();
    },
  };
}

function faultProblem(fault: ReplicateFault): HttpProblem {
  switch (fault.kind) {
    case 'http429': {
      const seconds = fault.retryAfter ?? 1;
      const detail = `Request was throttled. Expected available in ${seconds} second${seconds === 1 ? '' : 's'}.`;
      return new HttpProblem(429, { detail }, { 'retry-after': String(seconds) });
    }
    case 'http5xx': {
      const status = fault.status ?? 500;
      return problem(status, STATUS_CODES[status] ?? 'Error', 'An unexpected error occurred.');
    }
    case 'http402':
      return problem(
        402,
        'Billing required',
        'You need to set up billing to run this model. Go to https://replicate.com/account/billing and set up billing then try again.',
      );
  }
}
