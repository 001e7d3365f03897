import type { MediaStore } from '../domain/media-store.js';
import { FileMediaStore } from './file-media-store.js';
import { S3MediaStore } from './s3-media-store.js';

export interface MediaStoreSettings {
  storeUrl: string;
  s3: { endpoint: string | null; region: string; forcePathStyle: boolean };
}

/** The media storage MEDIA_STORE_URL names; undefined for `none` (upstream links only). */
export function createMediaStore(settings: MediaStoreSettings): MediaStore | undefined {
  const url = settings.storeUrl;
  if (url === 'none') return undefined;
  if (url.startsWith('file:')) return new FileMediaStore(url.slice('file:'.length));
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new Error(`MEDIA_STORE_URL: unsupported value`);
  return new S3MediaStore({
    bucket: m[1]!,
    prefix: (m[2] ?? '').replace(/^\/+|\/+$/g, ''),
    ...settings.s3,
  });
}
