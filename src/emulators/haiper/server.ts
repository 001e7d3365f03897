import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MediaStore } from '../shared/media.js';
import { recordCalls } from '../shared/record-calls.js';
import type { EmulatorHandle, RecordedCall } from '../shared/types.js';

/**
 * Fake of Haiper video through the Cloudsway MaaS host (providers.md section 4, seed 002):
 * `POST {basePath}/{endpointPath}/video/{generate|upscale|extend}` answers `{taskId}`, and
 * `GET {basePath}/{endpointPath}/video/tasks/{taskId}` walks PENDING → IN_PROGRESS → SUCCESS|FAIL.
 *
 * Cloudsway documents no error model, so every HTTP code and the `{error:{message,code}}` body
 * below (404 unknown endpointPath/task, 401 bad key, 400 bad body, 429/5xx faults) are
 * assumptions, the body borrowed from Haiper's own API.
 */

export interface HaiperEmulatorOptions {
  host?: string;
  port?: number;
  /** Accepted `Authorization: Bearer` keys; default `['haiper-emulator-key']`. */
  accessKeys?: string[];
  /** The per-deployment random path segment; default `'haiper-emulator'`. */
  endpointPath?: string;
  /** Polls a task answers PENDING before it starts; default 1. */
  pollsPending?: number;
  /** Polls a task answers IN_PROGRESS (progress rising) before it ends; default 2. */
  pollsInProgress?: number;
  /** Lifetime of a result's `mediaUrl`; `expireTime` = completion + this. Default 1 h. */
  mediaTtlMs?: number;
}

export type HaiperOutcome = 'success' | 'fail' | 'stuck-pending';

export type HaiperFault =
  { kind: 'http429'; retryAfter?: number } | { kind: 'http5xx'; status?: number };

export interface HaiperEmulator extends EmulatorHandle {
  /** `${url}/v1/ai`: what HAIPER_BASE_URL would be. */
  readonly basePath: string;
  readonly endpointPath: string;
  /** Outcomes for the next accepted creates, first in first out; unscripted creates succeed. */
  scriptNext(outcome: HaiperOutcome): void;
  /** Make the next `count` (default 1) requests to the video routes answer with `fault`. */
  failNext(fault: HaiperFault, count?: number): void;
  /** Accepted generate/upscale/extend calls. */
  readonly creates: number;
  /** Forget tasks, scripts, faults, calls and the create count. */
  reset(): void;
}

const httpUrl = z.url({ protocol: /^https?$/ });
const seed = z.number().int();

// Pure validators: the documented defaults (seed -1, duration 2, aspectRatio 16:9,
// extendDuration 4, guidanceScale 7.5) change nothing in a fake result, so they are not applied.
const generateBody = z.object({
  prompt: z.string().min(1),
  negativePrompt: z.string().optional(),
  config: z.object({ sourceImage: httpUrl.optional() }).optional(),
  settings: z
    .object({
      seed: seed.optional(),
      duration: z.literal([2, 4, 8]).optional(),
      aspectRatio: z.enum(['16:9', '9:16', '3:4', '4:3', '1:1']).optional(),
    })
    .optional(),
});

const upscaleBody = z.object({ config: z.object({ sourceVideo: httpUrl }) });

const extendBody = z.object({
  prompt: z.string().optional(),
  negativePrompt: z.string().optional(),
  config: z.object({ sourceVideo: httpUrl, extendDuration: z.literal([2, 4]).optional() }),
  settings: z.object({ seed: seed.optional(), guidanceScale: z.number().optional() }).optional(),
});

const createBodies = { generate: generateBody, upscale: upscaleBody, extend: extendBody };

interface Task {
  outcome: HaiperOutcome;
  polls: number;
  /** Set on the first SUCCESS poll, then repeated unchanged. */
  result?: { mediaUrl: string; expireTime: number };
}

function errorBody(message: string, code: string) {
  return { error: { message, code } };
}

function nonNegativeInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be an integer >= 0`);
  return value;
}

export async function startHaiperEmulator(
  opts: HaiperEmulatorOptions = {},
): Promise<HaiperEmulator> {
  const accessKeys = new Set(opts.accessKeys ?? ['haiper-emulator-key']);
  const endpointPath = opts.endpointPath ?? 'haiper-emulator';
  // The segment becomes part of a route pattern, so keep it to characters routing treats literally.
  if (!/^[A-Za-z0-9_-]+$/.test(endpointPath)) {
    throw new Error(`endpointPath must match [A-Za-z0-9_-]+: ${endpointPath}`);
  }
  const pollsPending = nonNegativeInt('pollsPending', opts.pollsPending ?? 1);
  const pollsInProgress = nonNegativeInt('pollsInProgress', opts.pollsInProgress ?? 2);
  const mediaTtlMs = opts.mediaTtlMs ?? 60 * 60 * 1000;

  const calls: RecordedCall[] = [];
  const tasks = new Map<string, Task>();
  const scripted: HaiperOutcome[] = [];
  const faults: HaiperFault[] = [];
  let creates = 0;
  let url = '';
  // Expired links answer 403 like expired signed storage URLs (the real code is unconfirmed).
  const media = new MediaStore(() => url, 403);

  const app = Fastify({ logger: false });

  recordCalls(app, calls);

  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(errorBody(`No route for ${req.method} ${req.url}`, 'not_found')),
  );
  // Body-parser failures (bad JSON, wrong content type) get the same envelope as our own errors.
  app.setErrorHandler<FastifyError>((err, _req, reply) => {
    const status = err.statusCode ?? 500;
    const code = status < 500 ? 'invalid_request' : 'internal_error';
    return reply.code(status).send(errorBody(err.message, code));
  });

  media.register(app);

  await app.register(
    async (api: FastifyInstance) => {
      // Faults come first: a rate limiter or a broken upstream answers before anything is checked.
      api.addHook('preHandler', async (req, reply) => {
        const fault = faults.shift();
        if (fault?.kind === 'http429') {
          return reply
            .code(429)
            .header('retry-after', String(fault.retryAfter ?? 1))
            .send(errorBody('Too many requests', 'rate_limited'));
        }
        if (fault?.kind === 'http5xx') {
          return reply
            .code(fault.status ?? 500)
            .send(errorBody('Upstream service error', 'upstream_error'));
        }
        const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
        if (!match?.[1] || !accessKeys.has(match[1])) {
          return reply.code(401).send(errorBody('Invalid or missing access key', 'unauthorized'));
        }
      });

      for (const [op, schema] of Object.entries(createBodies)) {
        api.post(`/${op}`, async (req, reply) => {
          const parsed = schema.safeParse(req.body);
          if (!parsed.success) {
            const message = parsed.error.issues
              .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
              .join('; ');
            return reply.code(400).send(errorBody(message, 'invalid_request'));
          }
          // Source URLs are only validated, never fetched: the emulator stays offline.
          const taskId = randomBytes(8).toString('hex');
          tasks.set(taskId, { outcome: scripted.shift() ?? 'success', polls: 0 });
          creates++;
          return { taskId };
        });
      }

      api.get<{ Params: { taskId: string } }>('/tasks/:taskId', async (req, reply) => {
        const task = tasks.get(req.params.taskId);
        if (!task) return reply.code(404).send(errorBody('Task not found', 'task_not_found'));
        return pollTask(task);
      });
    },
    { prefix: `/v1/ai/${endpointPath}/video` },
  );

  function pollTask(task: Task) {
    task.polls++;
    if (task.outcome === 'stuck-pending' || task.polls <= pollsPending) {
      return { status: 'PENDING', progress: 0 };
    }
    const step = task.polls - pollsPending;
    // Running step i of n reports i/(n+1): strictly rising and strictly inside (0,1). FAIL keeps
    // the last value reached, like a job that died part-way.
    const progress = Math.min(step, pollsInProgress) / (pollsInProgress + 1);
    if (step <= pollsInProgress) return { status: 'IN_PROGRESS', progress };
    if (task.outcome === 'fail') return { status: 'FAIL', progress };
    task.result ??= {
      mediaUrl: media.addMp4({ ttlMs: mediaTtlMs }),
      expireTime: Date.now() + mediaTtlMs,
    };
    return { status: 'SUCCESS', ...task.result, progress: 1 };
  }

  url = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });

  return {
    url,
    basePath: `${url}/v1/ai`,
    endpointPath,
    calls,
    get creates() {
      return creates;
    },
    scriptNext(outcome) {
      scripted.push(outcome);
    },
    failNext(fault, count = 1) {
      for (let i = 0; i < count; i++) faults.push(fault);
    },
    reset() {
      calls.length = 0;
      tasks.clear();
      scripted.length = 0;
      faults.length = 0;
      creates = 0;
    },
    close: () => app.close(),
  };
}
