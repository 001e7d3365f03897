import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/config.js';
import { MediaLinkSigner } from '../domain/media-links.js';
import { purgeExpiredMedia } from '../domain/media-retention.js';
import { outputKey, type MediaStore } from '../domain/media-store.js';
import { OutputCopier } from '../domain/output-copier.js';
import { OutputCopies } from '../domain/output-copies.js';
import type { OutputLinks, TaskRecord } from '../domain/task-record.js';
import type { TaskStore } from '../domain/task-store.js';
import { FfmpegPosters, ffmpegAvailable } from '../media/ffmpeg-posters.js';
import { createMediaStore } from '../media/index.js';
import type { GatewayMetrics } from '../observability/metrics.js';

/** How often stored outputs past retention are looked for. */
const PURGE_EVERY_MS = 10 * 60 * 1000;

export interface MediaStorage {
  media: MediaStore;
  copies: OutputCopies;
  signer: MediaLinkSigner;
  /** Links in webhook bodies: under PUBLIC_URL (else the listen address). */
  webhookLinks: OutputLinks;
  deleteTaskMedia(task: TaskRecord): Promise<void>;
  start(): void;
  close(): Promise<void>;
}

export interface MediaStorageDeps {
  store: TaskStore;
  logger: FastifyBaseLogger;
  metrics: GatewayMetrics;
  download(task: TaskRecord, index: number, signal: AbortSignal): Promise<Readable>;
}

/**
 * Media storage of outputs (architecture §9), or undefined for MEDIA_STORE_URL=none: the
 * store, the copies made before a success is announced, signed links, posters and retention.
 */
export async function createMediaStorage(
  config: Config,
  deps: MediaStorageDeps,
): Promise<MediaStorage | undefined> {
  const settings = config.media;
  const media = await createMediaStore(settings);
  if (!media) return undefined;
  const { logger, metrics } = deps;
  if (media.kind === 'file' && config.storeUrl.startsWith('redis')) {
    logger.warn(
      'MEDIA_STORE_URL is a local directory while STORE_URL is Redis: every instance must mount the same directory, or use s3://',
    );
  }
  const posters = (await ffmpegAvailable()) ? new FfmpegPosters() : undefined;
  if (!posters) logger.info('ffmpeg not found: video outputs get no poster frame');
  const copier = new OutputCopier({
    media,
    download: deps.download,
    posters,
    maxBytes: settings.maxOutputBytes,
    timeoutMs: settings.copyTimeoutMs,
    retentionMs: settings.retentionMs,
  });
  const copies = new OutputCopies({
    store: deps.store,
    copier,
    logger,
    concurrency: settings.copyConcurrency,
    maxAttempts: settings.copyAttempts,
    timeoutMs: settings.copyTimeoutMs,
    metrics,
  });
  const signer = new MediaLinkSigner(signingKey(config, logger), settings.linkTtlMs);
  const listenHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const webhookBase = config.publicUrl ?? `http://${listenHost}:${config.port}`;
  let timer: NodeJS.Timeout | undefined;
  const purge = () => {
    purgeExpiredMedia(media, settings.retentionMs, Date.now(), logger)
      .then((n) => metrics.mediaPurgedObjects(n))
      .catch((err: unknown) => logger.warn({ err }, 'media retention purge failed'));
  };
  return {
    media,
    copies,
    signer,
    webhookLinks: signer.linksUnder(webhookBase),
    async deleteTaskMedia(task) {
      const keys = task.outputs.flatMap((o, i) =>
        o.stored
          ? [outputKey(task.id, i), ...(o.stored.poster ? [outputKey(task.id, i, true)] : [])]
          : [],
      );
      await Promise.all(keys.map((key) => media.delete(key)));
    },
    start() {
      purge();
      timer = setInterval(purge, PURGE_EVERY_MS).unref();
    },
    async close() {
      clearInterval(timer);
      await copies.close();
      await media.close?.();
    },
  };
}

/**
 * The key that signs media links: MEDIA_SIGNING_KEY; else derived from WEBHOOK_SECRET (links
 * survive restarts and are shared by a cluster); else random for this process, with a warning:
 * links then stop working at a restart (stored files stay, a fresh read gives new links).
 */
function signingKey(config: Config, logger: FastifyBaseLogger): Buffer {
  if (config.media.signingKey) return createHash('sha256').update(config.media.signingKey).digest();
  if (config.webhookSecret) {
    return createHmac('sha256', config.webhookSecret).update('genway media links').digest();
  }
  logger.warn(
    'Neither MEDIA_SIGNING_KEY nor WEBHOOK_SECRET is set: media links are signed with a random key and stop working when genway restarts',
  );
  return randomBytes(32);
}
