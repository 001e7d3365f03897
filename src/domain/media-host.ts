import { createHash, randomBytes } from 'node:crypto';
import { GatewayError } from '../errors/gateway-error.js';
import type { StoredMedia, TaskStore } from './task-store.js';

/** How long a published file stays reachable: long enough for an upstream to fetch it. */
export const MEDIA_TTL_MS = 60 * 60 * 1000;
/** Largest file genway publishes (inputs such as images; videos come as URLs). */
export const MEDIA_MAX_BYTES = 20 * 1024 * 1024;
/** Bytes published and not yet expired, in all, this process keeps at most (1 GiB). */
export const MEDIA_QUOTA_BYTES = 1024 * 1024 * 1024;
/** Of those, what one tenant's files may take (256 MiB): one tenant cannot fill the rest. */
export const MEDIA_TENANT_QUOTA_BYTES = 256 * 1024 * 1024;
/** Expired entries are deleted at most this often (on publish, and by the app's timer). */
export const MEDIA_PURGE_EVERY_MS = 5 * 60 * 1000;

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const CONTENT_TYPE = /^[a-z]+\/[a-z0-9.+-]+$/i;

/** Store key of a token: its SHA-256, so a copy of the store does not hand out working URLs. */
export const mediaIdOf = (token: string) => createHash('sha256').update(token).digest('base64url');

export interface MediaHostOptions {
  store: TaskStore;
  /** genway's external URL (PUBLIC_URL), without a trailing slash; null: nothing is published. */
  publicUrl: string | null;
  ttlMs?: number;
  maxBytes?: number;
  /** Live published bytes at most (MEDIA_QUOTA_BYTES); past it a publish is refused (429). */
  quotaBytes?: number;
  /** Live published bytes of one tenant at most (MEDIA_TENANT_QUOTA_BYTES); 429 past it. */
  tenantQuotaBytes?: number;
  now?: () => number;
}

/**
 * Serves bytes at unguessable, expiring URLs under PUBLIC_URL (`/media/{token}`), for upstreams
 * that take files only as URLs. The bytes live in the task store so they survive a restart.
 */
export class MediaHost {
  private readonly ttlMs: number;
  private readonly maxBytes: number;
  private readonly now: () => number;
  private readonly quotaBytes: number;
  private readonly tenantQuotaBytes: number;
  private lastPurge = 0;
  /** What this process published and has not expired yet, oldest first: the quotas' ledger. */
  private live: { bytes: number; expiresAt: number; tenant: string }[] = [];
  private liveBytes = 0;
  private readonly liveByTenant = new Map<string, number>();

  constructor(private readonly options: MediaHostOptions) {
    this.ttlMs = options.ttlMs ?? MEDIA_TTL_MS;
    this.quotaBytes = options.quotaBytes ?? MEDIA_QUOTA_BYTES;
    this.tenantQuotaBytes = options.tenantQuotaBytes ?? MEDIA_TENANT_QUOTA_BYTES;
    this.maxBytes = options.maxBytes ?? MEDIA_MAX_BYTES;
    this.now = options.now ?? (() => Date.now());
  }

  /** Stores `bytes` for `tenant` and returns their public URL (`StartCall.publishMedia`). */
  readonly publish = async (
    bytes: Buffer,
    contentType: string,
    tenant: string,
  ): Promise<string> => {
    const base = this.options.publicUrl;
    if (base === null) {
      throw new GatewayError('internal', 'Files can only be published once PUBLIC_URL is set');
    }
    if (bytes.length > this.maxBytes) {
      throw new GatewayError(
        'payload_too_large',
        `The file is ${bytes.length} bytes; genway publishes at most ${this.maxBytes} bytes`,
      );
    }
    const now = this.now();
    this.forgetExpired(now);
    const own = this.liveByTenant.get(tenant) ?? 0;
    if (own + bytes.length > this.tenantQuotaBytes) {
      const oldest = this.live.find((f) => f.tenant === tenant);
      throw new GatewayError(
        'rate_limited',
        `Your published files take ${own} of ${this.tenantQuotaBytes} bytes until they expire; retry later`,
        { retryAfterMs: oldest ? Math.max(1000, oldest.expiresAt - now) : 1000 },
      );
    }
    if (this.liveBytes + bytes.length > this.quotaBytes) {
      const oldest = this.live[0];
      throw new GatewayError(
        'rate_limited',
        `Published files take ${this.liveBytes} of ${this.quotaBytes} bytes until they expire; retry later`,
        { retryAfterMs: oldest ? Math.max(1000, oldest.expiresAt - now) : 1000 },
      );
    }
    this.live.push({ bytes: bytes.length, expiresAt: now + this.ttlMs, tenant });
    this.liveBytes += bytes.length;
    this.liveByTenant.set(tenant, own + bytes.length);
    if (now - this.lastPurge >= MEDIA_PURGE_EVERY_MS) await this.purge();
    const token = randomBytes(32).toString('base64url');
    await this.options.store.putMedia({
      id: mediaIdOf(token),
      contentType: CONTENT_TYPE.test(contentType) ? contentType : 'application/octet-stream',
      bytes,
      createdAt: now,
      expiresAt: now + this.ttlMs,
    });
    return `${base}/media/${token}`;
  };

  private forgetExpired(now: number): void {
    let i = 0;
    for (; i < this.live.length && this.live[i]!.expiresAt <= now; i++) {
      const { bytes, tenant } = this.live[i]!;
      this.liveBytes -= bytes;
      const left = (this.liveByTenant.get(tenant) ?? 0) - bytes;
      if (left > 0) this.liveByTenant.set(tenant, left);
      else this.liveByTenant.delete(tenant);
    }
    if (i > 0) this.live = this.live.slice(i);
  }

  /** The file behind `token`, or undefined when unknown or expired. */
  async read(token: string): Promise<StoredMedia | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const media = await this.options.store.getMedia(mediaIdOf(token));
    if (!media || media.expiresAt <= this.now()) return undefined;
    return media;
  }

  /** Deletes expired files; returns how many. */
  async purge(): Promise<number> {
    this.lastPurge = this.now();
    return this.options.store.purgeMedia(this.lastPurge);
  }
}
