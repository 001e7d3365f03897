import type { MediaStore } from '../domain/media-store.js';
import { FileMediaStore } from './file-media-store.js';

export interface MediaStoreSettings {
  storeUrl: string;
  s3: { endpoint: string | null; region: string; forcePathStyle: boolean };
}

/**
 * The media storage MEDIA_STORE_URL names; undefined for `none` (upstream links only). The S3
 * client is loaded only for `s3://` (the AWS SDK adds ~20 MB of resident memory).
 */
export async function createMediaStore(
  settings: MediaStoreSettings,
): Promise<MediaStore | undefined> {
  const url = settings.storeUrl;
  if (url === 'none') return undefined;
  if (url.startsWith('file:')) return new FileMediaStore(url.slice('file:'.length));
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new Error(`MEDIA_STORE_URL: unsupported value`);
  const { S3MediaStore } = await import('./s3-media-store.js');
  return new S3MediaStore({
    bucket: m[1]!,
    prefix: (m[2] ?? '').replace(/^\/+|\/+$/g, ''),
    ...settings.s3,
  });
}
