import { randomBytes, randomInt } from 'node:crypto';
import type { MediaStore } from '../shared/media.js';
import { makePng } from '../shared/png.js';

export type Status = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled' | 'aborted';

/**
 * How a created prediction will end. `success-early-output` lists its files while still
 * `processing` (what Replicate's sync API does for file outputs), so `Prefer: wait` returns early.
 */
export type Outcome =
  | 'success'
  | 'fail'
  | 'success-video'
  | 'success-early-output'
  | { failWith: string }
  | ManyOutputs;

/**
 * Success with `outputs` image URLs whatever `num_outputs` said (a model the caller controls may
 * answer thousands), each file `bytes` long when set (a PNG signature, then padding).
 */
export interface ManyOutputs {
  outputs: number;
  bytes?: number;
}

/** The error Stable Diffusion's safety checker returns; used for a scripted `'fail'`. */
const DEFAULT_FAILURE = 'NSFW content detected. Try running it again, or try a different prompt.';
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export interface Prediction {
  readonly seq: number;
  readonly id: string;
  readonly model: string;
  readonly version: string;
  readonly outcome: Outcome;
  readonly createdAt: number;
  readonly deadlineAt: number | undefined;
  input: Record<string, unknown>;
  /** Polls (and wait ticks) seen so far; they drive starting → processing → terminal. */
  steps: number;
  status: Status;
  output: string | string[] | null;
  error: string | null;
  logs: string;
  dataRemoved: boolean;
  startedAt?: number;
  completedAt?: number;
}

export interface LifecycleConfig {
  pollsStarting: number;
  pollsProcessing: number;
  dataRetentionMs: number;
  media: MediaStore;
}

export function isTerminal(status: Status): boolean {
  return status !== 'starting' && status !== 'processing';
}

/** Done as far as a `Prefer: wait` is concerned: terminal, or its files are already listed. */
export function isSettled(p: Prediction): boolean {
  return isTerminal(p.status) || p.output !== null;
}

/** The state machine of one emulator's predictions; time only matters for deadlines and retention. */
export class Lifecycle {
  private seq = 0;

  constructor(private readonly cfg: LifecycleConfig) {}

  create(fields: {
    model: string;
    version: string;
    input: Record<string, unknown>;
    outcome: Outcome;
    deadlineAt: number | undefined;
  }): Prediction {
    return {
      ...fields,
      seq: ++this.seq,
      id: Array.from(randomBytes(26), (b) => ID_ALPHABET.charAt(b & 31)).join(''),
      createdAt: Date.now(),
      steps: 0,
      status: 'starting',
      output: null,
      error: null,
      logs: '',
      dataRemoved: false,
    };
  }

  /** Apply what the wall clock decides on its own: the Cancel-After deadline and data retention. */
  refresh(p: Prediction): void {
    const now = Date.now();
    if (p.deadlineAt !== undefined && !isTerminal(p.status) && now >= p.deadlineAt) {
      p.status = p.status === 'starting' ? 'aborted' : 'canceled';
      p.completedAt = p.deadlineAt;
    }
    if (
      p.completedAt !== undefined &&
      !p.dataRemoved &&
      now >= p.completedAt + this.cfg.dataRetentionMs
    ) {
      p.dataRemoved = true;
      p.input = {};
      p.output = null;
      p.logs = '';
    }
  }

  /** One poll's worth of progress. */
  advance(p: Prediction): void {
    this.refresh(p);
    if (isTerminal(p.status)) return;
    p.steps++;
    const { pollsStarting, pollsProcessing } = this.cfg;
    if (p.status === 'starting' && p.steps > pollsStarting) this.start(p);
    if (p.steps > pollsStarting + pollsProcessing) {
      this.finish(p);
    } else if (p.status === 'processing') {
      p.logs += progressLine(p, (p.steps - pollsStarting) / (pollsProcessing + 1));
    }
  }

  cancel(p: Prediction): void {
    this.refresh(p);
    if (isTerminal(p.status)) return;
    p.status = 'canceled';
    p.completedAt = Date.now();
  }

  private start(p: Prediction): void {
    p.status = 'processing';
    p.startedAt = Date.now();
    p.logs = `Using seed: ${typeof p.input.seed === 'number' ? p.input.seed : randomInt(1, 65536)}\n`;
    if (p.outcome === 'success-early-output') p.output = this.images(p);
  }

  private finish(p: Prediction): void {
    const { outcome } = p;
    p.completedAt = Date.now();
    if (outcome === 'fail' || (typeof outcome === 'object' && 'failWith' in outcome)) {
      p.status = 'failed';
      p.error = outcome === 'fail' ? DEFAULT_FAILURE : outcome.failWith;
      return;
    }
    p.status = 'succeeded';
    p.logs += progressLine(p, 1);
    // Video models (animate-diff, minimax/video-01, ...) return one file URL, image models a list.
    const ttlMs = this.cfg.dataRetentionMs;
    if (outcome === 'success-video') p.output = this.cfg.media.addMp4({ ttlMs });
    else if (typeof outcome === 'object') p.output = this.manyImages(outcome, ttlMs);
    else p.output ??= this.images(p);
  }

  private manyImages(outcome: ManyOutputs, ttlMs: number): string[] {
    const { media } = this.cfg;
    // One padded body shared by every file: 1,000 outputs of 20 MB cost 20 MB here.
    const body = outcome.bytes === undefined ? undefined : paddedPng(outcome.bytes);
    return Array.from({ length: outcome.outputs }, () =>
      body ? media.addFile(body, 'image/png', ttlMs) : media.addPng({ ttlMs }),
    );
  }

  private images(p: Prediction): string[] {
    const count = typeof p.input.num_outputs === 'number' ? p.input.num_outputs : 1;
    const ttlMs = this.cfg.dataRetentionMs;
    return Array.from({ length: count }, () => this.cfg.media.addPng({ ttlMs }));
  }
}

/** `bytes` bytes starting with a PNG's signature and header (enough for content sniffing). */
function paddedPng(bytes: number): Buffer {
  const body = Buffer.alloc(bytes);
  makePng(8, 8, 1).copy(body, 0, 0, Math.min(bytes, 33));
  return body;
}

/** A tqdm line like the ones diffusers models print; clients parse progress out of these. */
function progressLine(p: Prediction, fraction: number): string {
  const total = typeof p.input.num_inference_steps === 'number' ? p.input.num_inference_steps : 50;
  const done = Math.round(total * fraction);
  const percent = Math.round(fraction * 100);
  const bar = '█'.repeat(Math.round(fraction * 10)).padEnd(10);
  return `${String(percent).padStart(3)}%|${bar}| ${done}/${total} [00:01<00:01, 20.00it/s]\n`;
}

/** The wire object, in the field order of Replicate's own responses. */
export function renderPrediction(p: Prediction, apiBase: string, origin: string) {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  const metrics =
    isTerminal(p.status) && p.completedAt !== undefined
      ? {
          ...(p.startedAt === undefined
            ? {}
            : { predict_time: (p.completedAt - p.startedAt) / 1000 }),
          total_time: (p.completedAt - p.createdAt) / 1000,
        }
      : undefined;
  return {
    id: p.id,
    model: p.model,
    version: p.version,
    input: p.input,
    logs: p.logs,
    output: p.output,
    error: p.error,
    status: p.status,
    source: 'api',
    data_removed: p.dataRemoved,
    created_at: iso(p.createdAt),
    started_at: iso(p.startedAt),
    completed_at: iso(p.completedAt),
    deadline: iso(p.deadlineAt),
    ...(metrics ? { metrics } : {}),
    urls: {
      web: `${origin}/p/${p.id}`,
      get: `${apiBase}/predictions/${p.id}`,
      cancel: `${apiBase}/predictions/${p.id}/cancel`,
    },
  };
}
