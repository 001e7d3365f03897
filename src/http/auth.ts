import { createHash } from 'node:crypto';
import type { TenantConfig } from '../config/config.js';
import type { Caller } from '../domain/access.js';
import type { ApiKeyRecord, TenantRecord } from '../domain/admin-store.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenant: string;
    /** The key the request came with: its id (admin keys) and rules, for creates. */
    caller: Caller;
  }
}

const digest = (key: string) => createHash('sha256').update(key).digest('base64');

/** How keys created through the admin API are stored and looked up: SHA-256, hex. */
export const adminKeyHash = (key: string) => createHash('sha256').update(key).digest('hex');

/** The answer of `GatewayKeys.identify`. */
export type Identity = { tenant: string; caller: Caller } | { rejected: 'unknown' | 'expired' };

export interface GatewayKeysOptions {
  /**
   * Keys created at runtime (admin API), by hash: the store's lookup (Redis keeps known keys
   * per instance until a revocation's message drops them).
   */
  lookup?: (hash: string) => Promise<ApiKeyRecord | undefined>;
  /** The admin API tenant of such a key (its request limit); undefined: none. */
  tenant?: (id: string) => Promise<TenantRecord | undefined>;
  now?: () => number;
}

/**
 * Gateway keys → tenant. Keys are looked up by their SHA-256, so neither the map nor a
 * timing difference reveals anything about a stored key. Keys from the configuration are
 * checked first; then the keys created through the admin API (in the store, so a new,
 * revoked or expired key counts at once on every instance).
 */
export class GatewayKeys {
  private readonly byDigest: Map<string, string>;
  /**
   * Configured keys already presented → tenant, so that a request does not hash its key
   * again. Configured keys are in memory anyway and never change while the process runs;
   * keys created through the admin API are not kept here (revocation counts at once).
   */
  private readonly configured = new Map<string, string>();

  constructor(
    tenants: readonly TenantConfig[],
    private readonly options: GatewayKeysOptions = {},
  ) {
    this.byDigest = new Map(tenants.flatMap((t) => t.keys.map((k) => [digest(k), t.id] as const)));
  }

  /** Tenant of an `Authorization: Bearer|Token <key>` header (configured keys only). */
  tenantOf(header: string | undefined): string | undefined {
    const key = keyIn(header);
    return key ? this.configuredTenant(key) : undefined;
  }

  private configuredTenant(key: string): string | undefined {
    const known = this.configured.get(key);
    if (known !== undefined) return known;
    const tenant = this.byDigest.get(digest(key));
    // Only keys that matched: unknown keys cannot fill the map.
    if (tenant !== undefined && this.configured.size < this.byDigest.size) {
      this.configured.set(key, tenant);
    }
    return tenant;
  }

  /** The tenant and caller of a configured key, at once; undefined for any other header. */
  configuredIdentity(header: string | undefined): Identity | undefined {
    const key = keyIn(header);
    const tenant = key && this.configuredTenant(key);
    return tenant ? { tenant, caller: { keyId: null } } : undefined;
  }

  /** The tenant and caller of a header's key, configured or created through the admin API. */
  async identify(header: string | undefined): Promise<Identity> {
    return this.configuredIdentity(header) ?? this.identifyCreated(header);
  }

  /** `identify` for a header whose key is not a configured one (see configuredIdentity). */
  async identifyCreated(header: string | undefined): Promise<Identity> {
    const key = keyIn(header);
    if (!key) return { rejected: 'unknown' };
    const record = key.startsWith('gk_')
      ? await this.options.lookup?.(adminKeyHash(key))
      : undefined;
    if (!record) return { rejected: 'unknown' };
    if (record.expiresAt !== null && record.expiresAt <= (this.options.now ?? Date.now)()) {
      return { rejected: 'expired' };
    }
    const rateLimit = (await this.options.tenant?.(record.tenant))?.rateLimit;
    return {
      tenant: record.tenant,
      caller: {
        keyId: record.id,
        rules: { models: record.models, operations: record.operations },
        ...(rateLimit ? { rateLimit } : {}),
      },
    };
  }
}

const keyIn = (header: string | undefined) =>
  (header ? /^(?:Bearer|Token)\s+(\S+)\s*$/i.exec(header) : null)?.[1];
