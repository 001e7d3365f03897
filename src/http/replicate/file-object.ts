import type { ReplicateFileBody } from '../../contracts/replicate.js';
import type { StoredFileInfo, TaskStore } from '../../domain/task-store.js';
import { GatewayError } from '../../errors/gateway-error.js';

/** Largest upload: what genway can hand an upstream as a published link (MEDIA_MAX_BYTES). */
export const FILE_MAX_BYTES = 20 * 1024 * 1024;
/** Uploaded files are kept this long (`expires_at`), then purged. */
export const FILE_TTL_MS = 24 * 60 * 60 * 1000;
/** Largest `metadata` JSON accepted with an upload. */
export const FILE_METADATA_MAX_BYTES = 16 * 1024;

/** File ids: `file_` and a ULID (sorts by creation time). */
export const FILE_ID = /^file_[0-9A-HJKMNP-TV-Z]{26}$/;

const iso = (ms: number) => new Date(ms).toISOString();

/** A stored file in Replicate's file shape, its `urls.get` under `base` (the surface URL). */
export function toFileObject(file: StoredFileInfo, base: string): ReplicateFileBody {
  return {
    id: file.id,
    name: file.filename,
    content_type: file.contentType,
    size: file.size,
    checksums: { sha256: file.sha256 },
    metadata: file.metadata,
    created_at: iso(file.createdAt),
    expires_at: iso(file.expiresAt),
    urls: { get: `${base}/files/${file.id}` },
  };
}

const notFound = () => new GatewayError('not_found', 'File not found');

/** The tenant's file, live (not expired); 404 for a missing, expired or another tenant's file. */
export async function findFile(
  store: TaskStore,
  tenant: string,
  id: string,
  now = Date.now(),
): Promise<StoredFileInfo & { bytes?: Buffer }> {
  if (!FILE_ID.test(id)) throw notFound();
  const file = await store.getFile(id);
  if (!file || file.tenant !== tenant || file.expiresAt <= now) throw notFound();
  return file;
}
