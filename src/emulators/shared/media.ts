import type { FastifyInstance } from 'fastify';
import { makePng } from './png.js';
import { SAMPLE_MP4 } from './sample-mp4.js';

interface StoredFile {
  body: Buffer;
  contentType: string;
  /** epoch ms after which the file answers `expiredStatus` (like an expired CDN link). */
  expiresAt?: number;
  gone?: boolean;
}

/**
 * Output files of an emulator, served at `/media/<name>` with Range support, expiry and a
 * switch to make a file 404 (an output link that died), so tests see real bytes.
 */
export class MediaStore {
  private readonly files = new Map<string, StoredFile>();
  private counter = 0;

  constructor(
    private readonly baseUrl: () => string,
    private readonly expiredStatus = 404,
  ) {}

  addPng(opts: { width?: number; height?: number; ttlMs?: number } = {}): string {
    const seed = ++this.counter;
    return this.add(`img-${seed}-${Date.now().toString(36)}.png`, {
      body: makePng(opts.width ?? 64, opts.height ?? 64, seed),
      contentType: 'image/png',
      expiresAt: opts.ttlMs === undefined ? undefined : Date.now() + opts.ttlMs,
    });
  }

  addMp4(opts: { ttlMs?: number } = {}): string {
    const seed = ++this.counter;
    return this.add(`vid-${seed}-${Date.now().toString(36)}.mp4`, {
      body: SAMPLE_MP4,
      contentType: 'video/mp4',
      expiresAt: opts.ttlMs === undefined ? undefined : Date.now() + opts.ttlMs,
    });
  }

  /** A file with this exact body (kept by reference: many files may share one buffer). */
  addFile(body: Buffer, contentType: string, ttlMs?: number): string {
    const seed = ++this.counter;
    const ext = contentType === 'video/mp4' ? 'mp4' : 'png';
    return this.add(`file-${seed}-${Date.now().toString(36)}.${ext}`, {
      body,
      contentType,
      expiresAt: ttlMs === undefined ? undefined : Date.now() + ttlMs,
    });
  }

  /** A URL under this store for a file that will only exist once `publish(url)` is called. */
  reserve(ext: 'png' | 'mp4'): string {
    return `${this.baseUrl()}/media/pending-${++this.counter}-${Date.now().toString(36)}.${ext}`;
  }

  publish(url: string, ttlMs?: number): void {
    const name = url.slice(url.lastIndexOf('/') + 1);
    const isPng = name.endsWith('.png');
    this.files.set(name, {
      body: isPng ? makePng(64, 64, ++this.counter) : SAMPLE_MP4,
      contentType: isPng ? 'image/png' : 'video/mp4',
      expiresAt: ttlMs === undefined ? undefined : Date.now() + ttlMs,
    });
  }

  /** Make a file answer 404 from now on (an output URL that died upstream). */
  kill(url: string): void {
    const file = this.files.get(url.slice(url.lastIndexOf('/') + 1));
    if (file) file.gone = true;
  }

  private add(name: string, file: StoredFile): string {
    this.files.set(name, file);
    return `${this.baseUrl()}/media/${name}`;
  }

  register(app: FastifyInstance): void {
    app.get<{ Params: { name: string } }>('/media/:name', async (req, reply) => {
      const file = this.files.get(req.params.name);
      if (!file || file.gone) return reply.code(404).type('text/plain').send('Not Found');
      if (file.expiresAt !== undefined && Date.now() > file.expiresAt) {
        return reply.code(this.expiredStatus).type('text/plain').send('Request has expired');
      }
      const total = file.body.length;
      reply.header('accept-ranges', 'bytes').type(file.contentType);
      const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
      if (!range) return reply.header('content-length', total).send(file.body);
      const start = range[1] ? Number(range[1]) : total - Number(range[2]);
      const end = range[1] && range[2] ? Math.min(Number(range[2]), total - 1) : total - 1;
      if (!(start >= 0 && start <= end && start < total)) {
        return reply.code(416).header('content-range', `bytes */${total}`).send();
      }
      return reply
        .code(206)
        .header('content-range', `bytes ${start}-${end}/${total}`)
        .header('content-length', end - start + 1)
        .send(file.body.subarray(start, end + 1));
    });
  }
}
