import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import type { ByteRange, MediaStore, StoredObjectInfo } from '../domain/media-store.js';

/**
 * Media storage in a local directory (`MEDIA_STORE_URL=file:<dir>`). Writes go to a temporary
 * file renamed into place, so a reader never sees half a file.
 */
export class FileMediaStore implements MediaStore {
  readonly kind = 'file';
  private readonly root: string;

  constructor(dir: string) {
    this.root = resolve(dir);
  }

  async put(key: string, body: Readable): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const partial = `${path}.${randomBytes(6).toString('hex')}.partial`;
    try {
      await pipeline(body, createWriteStream(partial));
      await rename(partial, path);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    const path = this.pathOf(key);
    if (!(await this.stat(key))) return undefined;
    return createReadStream(path, range ? { start: range.start, end: range.end } : {});
  }

  async stat(key: string): Promise<StoredObjectInfo | undefined> {
    try {
      const s = await stat(this.pathOf(key));
      return s.isFile() ? { bytes: s.size, storedAt: s.mtimeMs } : undefined;
    } catch {
      return undefined;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async *listOlderThan(before: number): AsyncIterable<string> {
    let entries;
    try {
      entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      // Stale `.partial` files of an interrupted copy are listed too, so retention removes them.
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      const s = await stat(path).catch(() => undefined);
      if (s && s.mtimeMs < before) yield relative(this.root, path).split(sep).join('/');
    }
  }

  /** Keys are genway's own, but a path must still never leave the root. */
  private pathOf(key: string): string {
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new Error(`media key outside the store: ${key}`);
    return path;
  }
}
