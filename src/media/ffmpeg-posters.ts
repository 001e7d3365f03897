import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PosterMaker } from '../domain/output-copier.js';

/** Largest poster kept (a first frame as JPEG is far smaller). */
const MAX_POSTER_BYTES = 5 * 1024 * 1024;

/** Whether `ffmpeg` runs on this machine (posters are made only then). */
export function ffmpegAvailable(command = 'ffmpeg'): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(command, ['-version'], { timeout: 5000 }, (err) => resolve(!err));
  });
}

/**
 * First frames of videos with ffmpeg (`ffmpeg -v error -i <in> -frames:v 1 -f image2 out.jpg`),
 * from a temporary copy of the stored file (an MP4 may need seeking), under a time limit.
 */
export class FfmpegPosters implements PosterMaker {
  constructor(
    private readonly command = 'ffmpeg',
    private readonly timeoutMs = 30_000,
  ) {}

  async frameOf(video: Readable, signal: AbortSignal): Promise<Buffer | undefined> {
    const dir = await mkdtemp(join(tmpdir(), 'genway-poster-'));
    try {
      const input = join(dir, 'in');
      const output = join(dir, 'out.jpg');
      await pipeline(video, createWriteStream(input), { signal });
      const args = ['-v', 'error', '-i', input, '-frames:v', '1', '-f', 'image2', output];
      const ok = await new Promise<boolean>((resolve) => {
        execFile(this.command, args, { timeout: this.timeoutMs, signal }, (err) => resolve(!err));
      });
      if (!ok) return undefined;
      const frame = await readFile(output);
      return frame.length > 0 && frame.length <= MAX_POSTER_BYTES ? frame : undefined;
    } catch {
      return undefined;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
