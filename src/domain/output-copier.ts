import { createHash } from 'node:crypto';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { isGatewayError } from '../errors/gateway-error.js';
import { SNIFF_BYTES, sniffContentType } from './media-sniff.js';
import { outputKey, type MediaStore } from './media-store.js';
import type { StoredCopy, TaskOutput, TaskRecord } from './task-record.js';

/** Makes a poster frame of a video (ffmpeg); undefined when it cannot. */
export interface PosterMaker {
  frameOf(video: Readable, signal: AbortSignal): Promise<Buffer | undefined>;
}

export type CopyResult =
  | { kind: 'stored'; output: TaskOutput }
  /** Worth another try later (the upstream or the storage failed for now). */
  | { kind: 'transient'; reason: string }
  /** Can never work (not a media file, too large, the upstream no longer has it). */
  | { kind: 'permanent'; reason: string };

export interface OutputCopierDeps {
  media: MediaStore;
  /** Opens output `index` of `task` at the upstream (trusted hosts only): its body. */
  download(task: TaskRecord, index: number, signal: AbortSignal): Promise<Readable>;
  posters?: PosterMaker;
  maxBytes: number;
  /** Longest a whole copy of one output may take. */
  timeoutMs: number;
  retentionMs: number;
  now?: () => number;
}

class TooLarge extends Error {}

/**
 * Streams one upstream output into media storage, never holding it whole: its bytes are
 * counted (capped), hashed and its first bytes checked for a media signature on the way.
 */
export class OutputCopier {
  private readonly now: () => number;

  constructor(private readonly deps: OutputCopierDeps) {
    this.now = deps.now ?? Date.now;
  }

  async copy(task: TaskRecord, index: number, output: TaskOutput): Promise<CopyResult> {
    const key = outputKey(task.id, index);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error('timed out')), this.deps.timeoutMs);
    const inspect = new Inspect(this.deps.maxBytes);
    try {
      const body = await this.deps.download(task, index, abort.signal);
      // pipeline: an error on either side (upstream cut, cap reached) ends both.
      const source = pipeline(body, inspect, () => {});
      abort.signal.addEventListener('abort', () => inspect.destroy(new Error('timed out')), {
        once: true,
      });
      await this.deps.media.put(key, source, output.contentType);
    } catch (err) {
      await this.deps.media.delete(key).catch(() => {});
      return failure(err, inspect, abort.signal.aborted, this.deps.timeoutMs, this.deps.maxBytes);
    } finally {
      clearTimeout(timer);
    }
    const contentType = inspect.contentType;
    if (!contentType) {
      await this.deps.media.delete(key).catch(() => {});
      return { kind: 'permanent', reason: 'the file is not an image, video or audio file' };
    }
    const now = this.now();
    const stored: StoredCopy = {
      bytes: inspect.bytes,
      sha256: inspect.sha256(),
      contentType,
      storedAt: now,
      expiresAt: now + this.deps.retentionMs,
    };
    if (contentType.startsWith('video/') && this.deps.posters) {
      const poster = await this.poster(task.id, index);
      if (poster) stored.poster = poster;
    }
    return { kind: 'stored', output: { ...output, stored } };
  }

  /** A JPEG first frame beside the stored video; none when ffmpeg cannot make one. */
  private async poster(taskId: string, index: number) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 60_000);
    try {
      const video = await this.deps.media.get(outputKey(taskId, index));
      const frame = video && (await this.deps.posters!.frameOf(video, abort.signal));
      if (!frame || sniffContentType(frame) !== 'image/jpeg') return undefined;
      await this.deps.media.put(
        outputKey(taskId, index, true),
        Readable.from([frame]),
        'image/jpeg',
      );
      return { contentType: 'image/jpeg', bytes: frame.length };
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

function failure(
  err: unknown,
  inspect: Inspect,
  timedOut: boolean,
  timeoutMs: number,
  maxBytes: number,
): CopyResult {
  if (inspect.tooLarge || err instanceof TooLarge) {
    return { kind: 'permanent', reason: `the file is larger than ${maxBytes} bytes` };
  }
  if (timedOut) return { kind: 'transient', reason: `the copy took longer than ${timeoutMs} ms` };
  // The upstream no longer has the file (or genway does not trust its host): no retry helps.
  if (
    isGatewayError(err) &&
    (err.code === 'output_expired' || err.code === 'upstream_bad_response')
  ) {
    return { kind: 'permanent', reason: err.message };
  }
  if (isGatewayError(err)) return { kind: 'transient', reason: err.message };
  return { kind: 'transient', reason: 'the download or the storage write failed' };
}

/** Counts, caps and hashes the bytes passing through, and sniffs their content type. */
class Inspect extends Transform {
  bytes = 0;
  tooLarge = false;
  contentType: string | undefined;
  private head = Buffer.alloc(0);
  private readonly hash = createHash('sha256');

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      this.tooLarge = true;
      done(new TooLarge('too large'));
      return;
    }
    if (this.head.length < SNIFF_BYTES) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, SNIFF_BYTES)]);
      this.contentType = sniffContentType(this.head);
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  sha256(): string {
    return this.hash.digest('hex');
  }
}
