/**
 * Fuzz suite: requests generated from openapi/openapi.json with fast-check (valid, boundary and
 * invalid values, wrong types, deep nesting, ~1 MB strings, odd Unicode, unknown fields, broken
 * bodies, bad headers and Authorization) against the real app, wired to the four emulators.
 *
 * Properties, for every request:
 * - never a 5xx. The emulators accept every create (no queue limits, no scripted faults), so a
 *   502/503/504 here could only mean that caller input made genway blame the provider; that is
 *   a bug like a 500 ("every bad input gets a clear 4xx"), so no 5xx is tolerated at all;
 * - every 4xx is the surface's error shape: problem+json with type, title, status, detail, code
 *   and request_id on the normalized surface, Replicate's problem on /replicate/v1, OpenAI's
 *   envelope on /openai/v1 (validated against the documented schema);
 * - every 2xx has a documented status and content type, and a JSON body that validates against
 *   the DOCUMENTED response schema (ajv, draft 2020-12); binary and SSE bodies are not checked;
 * - a request without a valid gateway key never gets a 2xx from a secured operation;
 * - no configured secret in any response or log line (the harness's suite-wide scan).
 *
 * Seeded and bounded: FUZZ_SEED (default 20261121) replays a run, FUZZ_RUNS (default 2000) is
 * the total number of generated requests, FUZZ_OP (a substring of "METHOD /path") narrows it.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProvidersConfig } from '../../src/config/config.js';
import { startHaiperEmulator } from '../../src/emulators/haiper/server.js';
import { startModelslabEmulator } from '../../src/emulators/modelslab/server.js';
import { startPixverseEmulator } from '../../src/emulators/pixverse/server.js';
import { startReplicateEmulator } from '../../src/emulators/replicate/server.js';
import { makePng } from '../../src/emulators/shared/png.js';
import type { EmulatorHandle } from '../../src/emulators/shared/types.js';
import { createOutbound } from '../../src/net/outbound.js';
import {
  KEY_A,
  KEY_B,
  auth,
  buildTestApp,
  waitForTerminal,
  type TestApp,
} from '../helpers/test-app.js';
import {
  authArb,
  describeRequest,
  operationsOf,
  requestArb,
  type FuzzRequest,
  type GenContext,
  type Hints,
  type Json,
  type OpenApiDocument,
  type Operation,
} from './arbitraries.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261121);
const TOTAL_RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const ONLY = process.env.FUZZ_OP;
/** FUZZ_VERBOSE=1: print every request and the start of its answer. */
const VERBOSE = Boolean(process.env.FUZZ_VERBOSE);
/** A request that takes longer than this is a hang (long-polls are capped at 1 s here). */
const REQUEST_TIMEOUT_MS = 15_000;

/** Distinctive upstream secrets, so the harness's secret scan has something real to look for. */
const SECRETS = {
  modelslab: 'ml-fuzz-upstream-key-3f9a1c7e5b2d4a60',
  haiper: 'haiper-fuzz-access-key-8c2e4a6b0d1f3e5a',
  pixverse: 'px-fuzz-upstream-key-7d3b9f1a5c2e8b4d',
  replicate: 'r8_fuzz_upstream_token_2a4c6e8f0b1d3f5a',
  webhook: 'whsec_ZnV6ei13ZWJob29rLXNlY3JldC0wMTIzNDU2Nzg5YWI=',
};
const ADMIN_TOKEN = 'admin-fuzz-token-5e7a9c1b3d5f7a9c';
const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
const NO_SUCH_TASK = 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B';

const committed = JSON.parse(
  readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'),
) as OpenApiDocument;
const selected = (ops: Operation[]) => ops.filter((op) => !ONLY || op.key.includes(ONLY));
const OPERATIONS = selected(operationsOf(committed));

// ---------------------------------------------------------------------------------------------
// The app under test
// ---------------------------------------------------------------------------------------------

let t: TestApp;
let app: FastifyInstance;
let emulators: EmulatorHandle[] = [];
/** The document the app serves: the committed one plus whatever was added since. */
let doc: OpenApiDocument = committed;
let hints: Hints = {};
const ctxFor = (op: Operation): GenContext => ({ doc, hints: hintsFor(op, hints) });
let check: ResponseChecker;
const liveOnly: Operation[] = [];

interface OpStats {
  runs: number;
  statuses: Map<number, number>;
}
const stats = new Map<string, OpStats>();
const undocumented = new Map<string, number>();

beforeAll(async () => {
  const modelslab = await startModelslabEmulator({ apiKeys: [SECRETS.modelslab], queueLimit: 1e6 });
  const haiper = await startHaiperEmulator({
    accessKeys: [SECRETS.haiper],
    pollsPending: 0,
    pollsInProgress: 1,
  });
  const pixverse = await startPixverseEmulator({
    apiKeys: [SECRETS.pixverse],
    pollsUntilDone: 1,
    maxConcurrent: 1e6,
  });
  const replicate = await startReplicateEmulator({
    tokens: [SECRETS.replicate],
    timeScale: 0.01,
    pollsStarting: 0,
    pollsProcessing: 1,
  });
  emulators = [modelslab, haiper, pixverse, replicate];
  // Like src/emulators/index.ts, with this file's secrets.
  const providers: ProvidersConfig = {
    modelslab: {
      baseUrl: modelslab.url,
      credentials: [{ id: 'modelslab-fuzz', secret: SECRETS.modelslab }],
      emulated: true,
      loadBalancer: true,
      videoPath: '/api/v1/enterprise/video/text2video',
    },
    haiper: {
      baseUrl: haiper.basePath,
      endpointPath: haiper.endpointPath,
      credentials: [{ id: 'haiper-fuzz', secret: SECRETS.haiper }],
      emulated: true,
    },
    replicate: {
      baseUrl: replicate.baseUrl,
      credentials: [{ id: 'replicate-fuzz', secret: SECRETS.replicate }],
      emulated: true,
      models: [],
    },
    pixverse: {
      baseUrl: pixverse.baseUrl,
      credentials: [{ id: 'pixverse-fuzz', secret: SECRETS.pixverse }],
      emulated: true,
    },
  };
  t = await buildTestApp({
    providers,
    env: {
      WEBHOOK_SECRET: SECRETS.webhook,
      PUBLIC_URL: 'https://genway.fuzz.example',
      // Long-polls and waits hold at most 1 s; the fuzz sends many of them.
      MAX_WAIT_SECONDS: '1',
      OPENAI_IMAGES_WAIT_SECONDS: '5',
      RATE_LIMIT_MAX: '0',
      ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
    },
    // Webhook URLs pass the SSRF check (every name "resolves" to a public address) but no
    // connection is ever made: the fuzz must not reach the network.
    outbound: createOutbound({
      resolve: async () => [{ address: '93.184.215.14', family: 4 }],
      connector: () => (_options, callback) =>
        callback(new Error('fuzz: outbound connections are off'), null),
      timeoutMs: 500,
    }),
    webhooks: { scheduleMs: [10, 20], attemptTimeoutMs: 200 },
  });
  app = t.app;

  const served = (
    await app.inject({ method: 'GET', url: '/openapi.json' })
  ).json<OpenApiDocument>();
  doc = mergeDocuments(committed, served);
  const known = new Set(OPERATIONS.map((op) => op.key));
  liveOnly.push(...selected(operationsOf(served)).filter((op) => !known.has(op.key)));
  check = new ResponseChecker(doc);
  hints = await buildHints(app);
}, 60_000);

afterAll(async () => {
  printSummary();
  await t?.close();
  await Promise.all(emulators.map((e) => e.close()));
});

function mergeDocuments(base: OpenApiDocument, served: OpenApiDocument): OpenApiDocument {
  const paths = { ...served.paths };
  for (const [path, item] of Object.entries(base.paths)) paths[path] = { ...paths[path], ...item };
  const schemas = { ...served.components?.schemas, ...base.components?.schemas };
  return {
    ...served,
    ...base,
    paths,
    components: { ...served.components, ...base.components, schemas },
  };
}

// ---------------------------------------------------------------------------------------------
// Hints: known-good values (models, tasks) so that valid requests reach deep into the app
// ---------------------------------------------------------------------------------------------

const PNG_DATA_URL = `data:image/png;base64,${makePng(16, 16).toString('base64')}`;

async function create(url: string, payload: Json, key = KEY_A): Promise<string | undefined> {
  const res = await app.inject({ method: 'POST', url, headers: auth(key), payload });
  if (res.statusCode !== 201) return undefined;
  const id = res.json<Json>().id as string;
  await waitForTerminal(app, id, key, 10_000);
  return id;
}

/** Task ids seen in 2xx answers during the fuzz (running ones too: cancel, events, outputs). */
const recentIds: string[] = [];
function remember(body: unknown): void {
  const id = (body as Json | undefined)?.id;
  if (typeof id !== 'string' || recentIds.includes(id)) return;
  recentIds.push(id);
  if (recentIds.length > 100) recentIds.shift();
}

interface ModelInfo {
  id: string;
  provider: string;
  aliases: string[];
  operations: string[];
}
let models: ModelInfo[] = [];
const TASK_OPERATIONS = [
  'text-to-image',
  'text-to-video',
  'image-to-video',
  'video-upscale',
  'video-extend',
];

/** The task operations an API operation can start, read from its path. */
function taskOperationsOf(op: Operation): string[] {
  const named = TASK_OPERATIONS.filter((o) => op.path.includes(o));
  if (named.length > 0) return named;
  if (op.path.includes('images')) return ['text-to-image'];
  if (op.path.includes('videos')) return ['text-to-video', 'image-to-video'];
  return TASK_OPERATIONS;
}

/** Hints for one operation: the common ones, with `model` narrowed to the models that fit. */
function hintsFor(op: Operation, common: Hints): Hints {
  const wanted = taskOperationsOf(op);
  const fitting = models.filter((m) => m.operations.some((o) => wanted.includes(o)));
  const ids = [...new Set(fitting.flatMap((m) => [m.id, m.provider, ...m.aliases]))];
  return ids.length > 0 ? { ...common, model: fc.constantFrom(...ids) } : common;
}

async function buildHints(a: FastifyInstance): Promise<Hints> {
  models = (await a.inject({ method: 'GET', url: '/v1/models', headers: auth() })).json<{
    data: ModelInfo[];
  }>().data;
  const modelIds = [
    ...new Set([
      ...models.flatMap((m) => [m.id, m.provider, ...m.aliases]),
      `replicate/stability-ai/stable-diffusion:${SD}`,
    ]),
  ];

  // Tasks of every provider (tenant A), one of tenant B, all finished before the fuzz starts:
  // known ids make get/cancel/outputs/upscale/extend go past "not found".
  const image = await create('/v1/text-to-image', { model: 'modelslab/sdxl', prompt: 'a fox' });
  const video = await create('/v1/text-to-video', { model: 'pixverse', prompt: 'a boat' });
  const haiperVideo = await create('/v1/text-to-video', { model: 'haiper', prompt: 'rain' });
  const i2v = await create('/v1/image-to-video', {
    model: 'pixverse',
    image: PNG_DATA_URL,
    prompt: 'it moves',
  });
  const replicateImage = await create('/v1/text-to-image', {
    model: `replicate/stability-ai/stable-diffusion:${SD}`,
    prompt: 'mars',
  });
  const upscaled = haiperVideo
    ? await create('/v1/video-upscale', { model: 'haiper', video: haiperVideo })
    : undefined;
  const otherTenant = await create('/v1/text-to-image', { model: 'modelslab', prompt: 'b' }, KEY_B);
  const taskIds = [image, video, haiperVideo, i2v, replicateImage, upscaled, otherTenant].filter(
    (id): id is string => id !== undefined,
  );
  expect(taskIds.length, 'seed tasks for the fuzz').toBeGreaterThanOrEqual(5);
  const videos = [video, haiperVideo, upscaled].filter((id): id is string => id !== undefined);
  // Known ids, the tasks the fuzz itself created, and a well-formed id that does not exist.
  const id = fc.oneof(
    fc.constantFrom(...taskIds, NO_SUCH_TASK),
    fc.nat().map((i) => recentIds[i % Math.max(1, recentIds.length)] ?? NO_SUCH_TASK),
  );

  return {
    model: fc.constantFrom(...modelIds),
    prompt: fc.oneof(fc.lorem({ maxCount: 6 }), fc.constantFrom('a red fox in snow', '😀 ünïcødé')),
    negative_prompt: fc.lorem({ maxCount: 3 }),
    image: fc.constantFrom(PNG_DATA_URL, 'https://example.com/cat.png'),
    video: fc.constantFrom(...videos, 'https://example.com/clip.mp4'),
    id,
    video_id: id,
    cursor: id,
    after: id,
    index: fc.constantFrom(0, 1, 2),
    version: fc.constantFrom(
      `stability-ai/stable-diffusion:${SD}`,
      SD,
      'black-forest-labs/flux-schnell',
      'minimax/video-01',
    ),
    owner: fc.constantFrom('black-forest-labs', 'minimax', 'stability-ai'),
    name: fc.constantFrom('flux-schnell', 'flux-dev', 'video-01'),
    input: fc.record(
      {
        prompt: fc.lorem({ maxCount: 4 }),
        width: fc.constantFrom(512, 768),
        num_outputs: fc.constant(1),
      },
      { requiredKeys: ['prompt'] },
    ),
    prefer: fc.constantFrom('wait=0', 'wait=1', 'wait', 'respond-async'),
    // A few keys, so that the same key comes back with the same or another body.
    'idempotency-key': fc.constantFrom('fuzz-idem-1', 'fuzz-idem-2', 'fuzz-idem-3'),
    width: fc.constantFrom(512, 768, 1024),
    height: fc.constantFrom(512, 768, 1024),
    num_outputs: fc.constantFrom(1, 2),
    n: fc.constantFrom(1, 2),
    steps: fc.constantFrom(20, 30),
    guidance_scale: fc.constantFrom(7.5, 3),
    duration: fc.constantFrom(2, 4, 5, 8),
    seconds: fc.constantFrom('5', '8', 5),
    size: fc.constantFrom('1024x1024', '512x512', '1280x720', 'auto'),
    resolution: fc.constantFrom('360p', '540p', '720p', '1080p'),
    aspect_ratio: fc.constantFrom('16:9', '9:16', '1:1'),
    webhook: fc.constantFrom(
      { url: 'https://hooks.example.com/genway' },
      { url: 'https://hooks.example.com/genway', events: ['task.succeeded', 'task.running'] },
    ),
    provider_options: fc.constantFrom(
      {},
      { lora_model: 'more_details' },
      { camera_movement: 'zoom_in' },
      { motion_mode: 'normal', style: 'anime' },
    ),
    input_reference: fc.constantFrom(
      { image_url: PNG_DATA_URL },
      { image_url: 'https://example.com/first-frame.png' },
      'https://example.com/first-frame.png',
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// Checking an answer against the document
// ---------------------------------------------------------------------------------------------

type Surface = 'normalized' | 'replicate' | 'openai';

const DOC_ID = 'https://genway.test/openapi.json';
const pointerPart = (s: string) =>
  encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'));
const mediaType = (contentType: unknown) =>
  String(contentType ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();

/** Whether `url` (dot segments resolved) has the shape of the operation's path template. */
function reaches(op: Operation, url: string): boolean {
  const path = new URL(url, 'http://x').pathname;
  const pattern = op.path
    .split(/\{[^}]+\}/)
    .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${pattern}$`).test(path);
}

function surfaceOf(url: string): Surface {
  const path = new URL(url, 'http://x').pathname;
  if (path.startsWith('/openai/v1/')) return 'openai';
  if (path.startsWith('/replicate/v1/')) return 'replicate';
  return 'normalized';
}

/** Error schema of each surface, by component name. */
const ERROR_SCHEMAS: Record<Surface, { component: string; contentType: string }> = {
  normalized: { component: 'Problem', contentType: 'application/problem+json' },
  replicate: { component: 'ReplicateProblem', contentType: 'application/problem+json' },
  openai: { component: 'OpenAIError', contentType: 'application/json' },
};

class ResponseChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: OpenApiDocument) {
    this.ajv.addSchema({ ...document, $id: DOC_ID } as never);
  }

  private validator(pointer: string): ValidateFunction {
    let v = this.compiled.get(pointer);
    if (!v) {
      v = this.ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
      this.compiled.set(pointer, v);
    }
    return v;
  }

  private validate(pointer: string, body: unknown): string | undefined {
    const v = this.validator(pointer);
    if (v(body)) return undefined;
    return this.ajv.errorsText(v.errors, { dataVar: 'body' });
  }

  /** Everything wrong with `res` as an answer to `req` on `op` (empty: fine). */
  problems(op: Operation | undefined, req: FuzzRequest, res: Answer): string[] {
    const out: string[] = [];
    const status = res.statusCode;
    const type = mediaType(res.headers['content-type']);
    if (status >= 500) out.push(`status ${status} (no 5xx allowed): ${res.body.slice(0, 500)}`);
    if (!res.headers['x-request-id']) out.push('no x-request-id header');
    if (req.method === 'HEAD') return out;
    // The operation's documentation applies when the request reached it: same method, and a
    // path of its shape once dot segments are resolved (as the URL parser of inject does).
    const sameOp = op !== undefined && req.method === op.method && reaches(op, req.url);
    const documented = sameOp ? op.spec.responses?.[String(status)] : undefined;
    if (sameOp && !documented && status !== 404 && status !== 405) {
      const key = `${op.key} → ${status}`;
      undocumented.set(key, (undocumented.get(key) ?? 0) + 1);
    }
    if (status >= 400) {
      const surface = surfaceOf(req.url);
      const expected = ERROR_SCHEMAS[surface];
      if (type !== expected.contentType) {
        out.push(
          `${status} answered as ${type || 'no content type'}, expected ${expected.contentType} (${surface})`,
        );
        return out;
      }
      const body = parseJson(res.body);
      if (body === undefined)
        return [...out, `${status} body is not JSON: ${res.body.slice(0, 200)}`];
      const pointer =
        documented?.content?.[type]?.schema !== undefined
          ? `/paths/${pointerPart(op!.path)}/${op!.method.toLowerCase()}/responses/${status}/content/${pointerPart(type)}/schema`
          : `/components/schemas/${expected.component}`;
      const invalid = this.validate(pointer, body);
      if (invalid) out.push(`${status} error body does not match ${pointer}: ${invalid}`);
      const b = body as Json;
      if (surface !== 'openai' && b.status !== status)
        out.push(`body status ${String(b.status)} ≠ HTTP ${status}`);
      if (surface === 'normalized' && b.request_id !== res.headers['x-request-id']) {
        out.push(
          `request_id ${String(b.request_id)} ≠ x-request-id ${String(res.headers['x-request-id'])}`,
        );
      }
      return out;
    }
    if (status >= 200 && status < 300) {
      if (!op || !sameOp) return out;
      if (!documented) return [...out, `undocumented success status ${status}`];
      if (req.authorized === false && (op.spec.security ?? [{}]).length > 0) {
        out.push(`${status} without a valid gateway key (${req.note})`);
      }
      const content = documented.content ?? {};
      const types = Object.keys(content);
      if (types.length === 0) return out;
      const match = types.find((documentedType) => {
        const t = mediaType(documentedType);
        return t === type || (t.endsWith('/*') && type.startsWith(t.slice(0, -1)));
      });
      if (!match)
        return [
          ...out,
          `${status} answered as ${type || 'no content type'}, documented: ${types.join(', ')}`,
        ];
      if (match !== 'application/json') return out; // binary or an event stream: not checked
      const body = parseJson(res.body);
      if (body === undefined)
        return [...out, `${status} body is not JSON: ${res.body.slice(0, 200)}`];
      const pointer = `/paths/${pointerPart(op.path)}/${op.method.toLowerCase()}/responses/${status}/content/${pointerPart(match)}/schema`;
      const invalid = this.validate(pointer, body);
      if (invalid) out.push(`${status} body does not match the documented schema: ${invalid}`);
    }
    return out;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/** What the checker looks at: status, headers and (the start of, for streams) the body. */
interface Answer {
  statusCode: number;
  headers: LightMyRequestResponse['headers'];
  body: string;
}

/** Whether an operation answers with an event stream (read only until its first event). */
const streams = (op: Operation | undefined) =>
  Object.values(op?.spec.responses ?? {}).some((r) => 'text/event-stream' in (r.content ?? {}));

async function send(req: FuzzRequest, op: Operation | undefined): Promise<Answer> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)),
      REQUEST_TIMEOUT_MS,
    );
  });
  const streaming = streams(op);
  const abort = new AbortController();
  const request = async (): Promise<Answer> => {
    const res = await app.inject({
      method: req.method as 'GET',
      url: req.url,
      headers: req.headers,
      ...(req.payload !== undefined ? { payload: req.payload } : {}),
      ...(streaming ? { payloadAsStream: true, signal: abort.signal } : {}),
    });
    if (!streaming) return res;
    // An event stream stays open while its task runs: read what is there, then hang up.
    const chunks: Buffer[] = [];
    const stream = res.stream();
    stream.on('error', () => {});
    const ended = new Promise<void>((resolve) =>
      stream.once('end', resolve).once('close', resolve),
    );
    stream.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    const settle = res.statusCode >= 300 ? ended : Promise.race([ended, sleep(300)]);
    await settle;
    abort.abort();
    return {
      statusCode: res.statusCode,
      headers: res.headers,
      body: Buffer.concat(chunks).toString(),
    };
  };
  try {
    return await Promise.race([request(), hang]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function record(key: string, status: number): void {
  const s = stats.get(key) ?? { runs: 0, statuses: new Map<number, number>() };
  s.runs++;
  s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
  stats.set(key, s);
}

/** Runs one seeded property over `arb`, recording every request tried under `key`. */
async function fuzz(
  key: string,
  arb: fc.Arbitrary<FuzzRequest>,
  op: Operation | undefined,
  numRuns: number,
) {
  const seed = SEED + hash(key);
  await fc.assert(
    fc.asyncProperty(arb, async (req) => {
      const res = await send(req, op);
      record(key, res.statusCode);
      if (res.statusCode >= 200 && res.statusCode < 300) remember(parseJson(res.body));
      if (VERBOSE)
        console.log(
          `${res.statusCode} ${describeRequest(req).slice(0, 400)}\n    → ${res.body.slice(0, 300)}`,
        );
      const problems = check.problems(op, req, res);
      if (problems.length > 0) {
        throw new Error(`${problems.join('\n')}\nrequest: ${describeRequest(req)}`);
      }
    }),
    // No shrinking: every run is a real request; the seed (printed on failure) replays it.
    { seed, numRuns, endOnFailure: true },
  );
  const leaks = t.leaks();
  expect(leaks, 'configured secrets in responses or logs').toEqual([]);
}

function hash(text: string): number {
  let h = 0;
  for (const ch of text) h = (Math.imul(h, 31) + (ch.codePointAt(0) ?? 0)) | 0;
  return Math.abs(h % 1_000_000);
}

const weightOf = (op: Operation) => (op.spec.requestBody ? 3 : 1);
// + unknown routes (2) and concurrent creates (2)
const TOTAL_WEIGHT = OPERATIONS.reduce((n, op) => n + weightOf(op), 0) + 4;
const runsFor = (weight: number) => Math.max(10, Math.round((TOTAL_RUNS * weight) / TOTAL_WEIGHT));

/** Keys by security scheme: gateway keys for the API, ADMIN_TOKEN for admin routes. */
const KEYS_BY_SCHEME: Record<string, string[]> = {
  gatewayKey: [KEY_A, KEY_A, KEY_A, KEY_B],
  adminToken: [ADMIN_TOKEN],
};

function authFor(op: Operation) {
  const security = op.spec.security ?? [{ gatewayKey: [] }];
  const schemes = security.flatMap((s) => Object.keys(s as Json));
  const keys = schemes.flatMap((name) => KEYS_BY_SCHEME[name] ?? []);
  // Open operations (no scheme) may still check a token of their own (admin, metrics): offer
  // the configured operator token beside a gateway key.
  return authArb(keys.length > 0 ? keys : [KEY_A, ADMIN_TOKEN, ADMIN_TOKEN], [
    'gw_not_a_key_0123456789abcdef',
    'genway-dev-key',
    ...(schemes.includes('adminToken') ? [KEY_A] : [ADMIN_TOKEN]),
  ]).map((a) => ({ ...a, authorized: a.authorized || security.length === 0 }));
}

function printSummary(): void {
  const lines: string[] = [];
  let total = 0;
  for (const [key, s] of stats) {
    total += s.runs;
    const statuses = [...s.statuses].sort(([a], [b]) => a - b).map(([st, n]) => `${st}×${n}`);
    lines.push(`  ${key.padEnd(52)} ${String(s.runs).padStart(5)}  ${statuses.join(' ')}`);
  }
  const notes = [...undocumented].map(([k, n]) => `  undocumented status: ${k} (${n}×)`);
  if (liveOnly.length > 0) {
    notes.push(`  fuzzed from the served document only: ${liveOnly.map((o) => o.key).join(', ')}`);
  }
  console.log(
    [
      `fuzz (seed ${SEED}): ${total} requests tried`,
      ...lines,
      ...notes,
      `fuzz total: ${total} requests`,
    ].join('\n'),
  );
}

describe(`OpenAPI fuzz (seed ${SEED}, ~${TOTAL_RUNS} requests)`, () => {
  it('has operations to fuzz, and a checker that rejects wrong answers', () => {
    expect(OPERATIONS.length).toBeGreaterThan(ONLY ? 0 : 10);
    const op = operationsOf(doc).find((o) => o.key === 'POST /v1/text-to-image');
    if (!op) return;
    const req: FuzzRequest = {
      method: 'POST',
      url: op.path,
      headers: {},
      kind: 'self-test',
      authorized: true,
      note: 'checker self-test',
    };
    const answer = (statusCode: number, type: string, body: unknown) => ({
      statusCode,
      headers: { 'content-type': type, 'x-request-id': 'req_1' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const problem = {
      type: 'x',
      title: 'x',
      status: 400,
      detail: 'x',
      code: 'x',
      request_id: 'req_1',
    };
    expect(check.problems(op, req, answer(400, 'application/problem+json', problem))).toEqual([]);
    for (const wrong of [
      answer(500, 'application/problem+json', { ...problem, status: 500 }),
      answer(400, 'application/json', problem),
      answer(400, 'application/problem+json', { ...problem, request_id: undefined }),
      answer(400, 'application/problem+json', { ...problem, extra: 1 }),
      answer(201, 'application/json', { id: 'task_1' }),
      answer(201, 'text/plain', 'ok'),
      answer(299, 'application/json', {}),
    ]) {
      expect(check.problems(op, req, wrong), wrong.body).not.toEqual([]);
    }
    expect(
      check.problems(op, { ...req, authorized: false }, answer(201, 'application/json', {})),
    ).not.toEqual([]);
    // The self-test's statuses are not the app's.
    undocumented.clear();
  });

  for (const op of OPERATIONS) {
    it(
      op.key,
      async () => {
        await fuzz(op.key, requestArb(ctxFor(op), op, authFor(op)), op, runsFor(weightOf(op)));
      },
      120_000,
    );
  }

  it('operations added to the served document since openapi/openapi.json was written', async () => {
    for (const op of liveOnly) {
      await fuzz(op.key, requestArb(ctxFor(op), op, authFor(op)), op, runsFor(weightOf(op)));
    }
  }, 120_000);

  /**
   * Bugs the fuzz found, kept as fixed cases (each was a 500 before its fix). They go through the
   * same checks as the generated requests; `status` is what the fix answers.
   */
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const multipart = '--abc\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n';
  it.each([
    {
      name: 'multipart/form-data without a boundary (OpenAI images)',
      url: '/openai/v1/images/generations',
      type: 'multipart/form-data',
      payload: undefined,
      status: 400,
    },
    {
      name: 'multipart/form-data without a boundary (OpenAI videos)',
      url: '/openai/v1/videos',
      type: 'multipart/form-data',
      payload: `${multipart}--abc--\r\n`,
      status: 400,
    },
    {
      name: 'multipart body cut before its closing boundary',
      url: '/openai/v1/videos',
      type: 'multipart/form-data; boundary=abc',
      payload: multipart,
      status: 400,
    },
    {
      name: 'multipart body with another boundary than announced',
      url: '/openai/v1/videos',
      type: 'multipart/form-data; boundary=other',
      payload: `${multipart}--abc--\r\n`,
      status: 400,
    },
    {
      name: 'provider_options nested 5,000 levels deep, with an Idempotency-Key',
      url: '/v1/text-to-image',
      type: 'application/json',
      payload: `{"model":"modelslab","prompt":"x","provider_options":{"a":${deep(5000)}}}`,
      idempotencyKey: 'fuzz-regression-deep',
      status: 400,
    },
    ...['__proto__', 'constructor', 'toString'].map((model) => ({
      name: `model "${model}" (a prototype name: the alias table was read with it)`,
      url: '/v1/text-to-image',
      type: 'application/json',
      payload: JSON.stringify({ model, prompt: 'x' }),
      status: 400,
    })),
    {
      name: 'OpenAI video with model "constructor"',
      url: '/openai/v1/videos',
      type: 'application/json',
      payload: JSON.stringify({ model: 'constructor', prompt: 'x' }),
      status: 400,
    },
    {
      name: 'a body nested 100,000 levels deep',
      url: '/v1/text-to-video',
      type: 'application/json',
      payload: deep(100_000),
      status: 400,
    },
    {
      name: 'Replicate input nested 5,000 levels deep',
      url: '/replicate/v1/predictions',
      type: 'application/json',
      payload: `{"version":"${SD}","input":{"prompt":${deep(5000)}}}`,
      status: 400,
    },
  ])('regression: $name → $status', async (c) => {
    const op = [...OPERATIONS, ...liveOnly].find((o) => o.method === 'POST' && o.path === c.url);
    const req: FuzzRequest = {
      method: 'POST',
      url: c.url,
      headers: {
        ...auth(),
        'content-type': c.type,
        ...('idempotencyKey' in c ? { 'idempotency-key': c.idempotencyKey } : {}),
      },
      ...(c.payload === undefined ? {} : { payload: c.payload }),
      kind: 'regression',
      authorized: true,
      note: c.name,
    };
    const res = await send(req, op);
    expect(check.problems(op, req, res)).toEqual([]);
    expect(res.statusCode, res.body).toBe(c.status);
  });

  it('concurrent creates (shared Idempotency-Keys, the same task from several requests)', async () => {
    const creates = [...OPERATIONS, ...liveOnly].filter(
      (op) => op.method === 'POST' && op.spec.requestBody !== undefined,
    );
    if (creates.length === 0) return;
    // Batches of 2-6 requests to one create operation, sent at once; every answer is checked
    // like the sequential ones. Interleavings depend on timing: a failure names its batch.
    const batch = fc
      .constantFrom(...creates)
      .chain((op) =>
        fc
          .array(requestArb(ctxFor(op), op, authFor(op)), { minLength: 2, maxLength: 6 })
          .map((reqs) => ({ op, reqs })),
      );
    const key = 'concurrent creates';
    await fc.assert(
      fc.asyncProperty(batch, async ({ op, reqs }) => {
        const answers = await Promise.all(reqs.map((r) => send(r, op)));
        const problems = answers.flatMap((res, i) => {
          record(key, res.statusCode);
          const found = check.problems(op, reqs[i]!, res);
          return found.length > 0
            ? [`${found.join('; ')}\nrequest: ${describeRequest(reqs[i]!)}`]
            : [];
        });
        if (problems.length > 0) throw new Error(problems.join('\n'));
      }),
      {
        seed: SEED + hash(key),
        numRuns: Math.max(5, Math.round(runsFor(2) / 4)),
        endOnFailure: true,
      },
    );
    expect(t.leaks(), 'configured secrets in responses or logs').toEqual([]);
  }, 120_000);

  it('odd Host headers answer on every surface without a 5xx', async () => {
    if (ONLY && !'odd host'.includes(ONLY)) return;
    const host = fc.oneof(
      fc.constantFrom(
        'a b',
        'a/b',
        '',
        ' ',
        'x"y',
        '[zz]',
        '[::1',
        'h:99999',
        'h:-1',
        '..',
        'é.example',
      ),
      fc.string({ maxLength: 40 }).filter((h) => !/[\r\n\0]/.test(h)),
    );
    const route = fc.constantFrom(
      { method: 'GET', url: '/replicate/v1/predictions' },
      { method: 'GET', url: '/replicate/v1/predictions?page_size=1' },
      { method: 'GET', url: '/replicate/v1/predictions/abc' },
      { method: 'POST', url: '/replicate/v1/predictions' },
      { method: 'GET', url: '/v1/tasks' },
      { method: 'GET', url: '/v1/models' },
      { method: 'GET', url: '/openai/v1/videos' },
      { method: 'POST', url: '/openai/v1/videos' },
    );
    await fc.assert(
      fc.asyncProperty(host, route, async (h, r) => {
        const res = await app.inject({
          method: r.method as 'GET',
          url: r.url,
          headers: { ...auth(KEY_A), host: h, 'content-type': 'application/json' },
          ...(r.method === 'POST' ? { payload: JSON.stringify({ version: 'x', input: {} }) } : {}),
        });
        record('odd Host headers', res.statusCode);
        expect(res.statusCode, `${r.method} ${r.url} Host: ${JSON.stringify(h)}`).toBeLessThan(500);
      }),
      { seed: SEED + hash('odd host'), numRuns: Math.max(20, runsFor(1)), endOnFailure: true },
    );
  }, 120_000);

  it('unknown routes and methods answer in the surface error shape', async () => {
    if (ONLY && !'unknown routes'.includes(ONLY)) return;
    const prefixes = [
      '/',
      '/v1/',
      '/v2/',
      '/replicate/v1/',
      '/openai/v1/',
      '/media/',
      '/docs/',
      '/v1/tasks/x/',
    ];
    const segment = fc.oneof(
      fc.webSegment(),
      fc.constantFrom('..', '%', '%ZZ', '%00', 'tasks', 'predictions', 'videos', 'x'.repeat(300)),
    );
    const arb = fc
      .record({
        prefix: fc.constantFrom(...prefixes),
        segments: fc.array(segment, { minLength: 0, maxLength: 4 }),
        method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
        auth: authArb([KEY_A], ['nope-nope-nope-nope']),
      })
      .map(({ prefix, segments, method, auth: a }) => {
        const req: FuzzRequest = {
          method,
          url: `${prefix}${segments.join('/')}`,
          headers: a.header === undefined ? {} : { authorization: a.header },
          kind: 'unknown-route',
          authorized: a.authorized,
          note: a.note,
        };
        return Object.assign(req, { [fc.toStringMethod]: () => describeRequest(req) });
      });
    await fuzz('unknown routes', arb, undefined, runsFor(2));
  }, 120_000);
});
