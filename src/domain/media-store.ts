import type { Readable } from 'node:stream';

/** A byte range of a stored object, both ends included (as in HTTP `Range`). */
export interface ByteRange {
  start: number;
  end: number;
}

export interface StoredObjectInfo {
  bytes: number;
  /** When the object was written (ms since the epoch). */
  storedAt: number;
}

/**
 * Where genway keeps copies of outputs (MEDIA_STORE_URL): a local directory or an S3 bucket.
 * Keys are relative paths made by genway (`tasks/<task id>/<index>`), never caller input.
 */
export interface MediaStore {
  /** `file` or `s3`, for logs and the start-up check of cluster mode. */
  readonly kind: string;
  /** Streams `body` into `key`; the object appears whole or not at all. */
  put(key: string, body: Readable, contentType: string): Promise<void>;
  /** The object's bytes (`range`: only those), or undefined when it does not exist. */
  get(key: string, range?: ByteRange): Promise<Readable | undefined>;
  stat(key: string): Promise<StoredObjectInfo | undefined>;
  /** Deletes the object; a missing one is no error. */
  delete(key: string): Promise<void>;
  /** Keys of objects written before `before` (retention). */
  listOlderThan(before: number): AsyncIterable<string>;
  close?(): Promise<void>;
}

/** Storage key of output `index` of a task (`poster`: its poster frame). */
export const outputKey = (taskId: string, index: number, poster = false) =>
  `tasks/${taskId}/${index}${poster ? '.poster' : ''}`;
