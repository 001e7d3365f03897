import type { Logger } from './logger.js';
import type { MediaStore } from './media-store.js';

/**
 * Deletes stored outputs past retention (MEDIA_RETENTION): every object written before
 * now - retention. Reading such an output answers 410 from then on (its record says until
 * when it was kept, so it is refused even before this runs).
 */
export async function purgeExpiredMedia(
  media: MediaStore,
  retentionMs: number,
  now: number,
  logger?: Logger,
): Promise<number> {
  let deleted = 0;
  for await (const key of media.listOlderThan(now - retentionMs)) {
    try {
      await media.delete(key);
      deleted++;
    } catch (err) {
      logger?.warn({ err }, 'could not delete an expired stored output');
    }
  }
  return deleted;
}
