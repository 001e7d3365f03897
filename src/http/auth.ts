import { createHash } from 'node:crypto';
import type { TenantConfig } from '../config/config.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenant: string;
  }
}

const digest = (key: string) => createHash('sha256').update(key).digest('base64');

/**
 * Gateway keys → tenant. Keys are looked up by their SHA-256, so neither the map nor a
 * timing difference reveals anything about a stored key.
 */
export class GatewayKeys {
  private readonly byDigest: Map<string, string>;

  constructor(tenants: readonly TenantConfig[]) {
    this.byDigest = new Map(tenants.flatMap((t) => t.keys.map((k) => [digest(k), t.id] as const)));
  }

  /** Tenant of an `Authorization: Bearer|Token <key>` header; undefined for anything else. */
  tenantOf(header: string | undefined): string | undefined {
    const match = header ? /^(?:Bearer|Token)\s+(\S+)\s*$/i.exec(header) : null;
    return match?.[1] ? this.byDigest.get(digest(match[1])) : undefined;
  }
}
