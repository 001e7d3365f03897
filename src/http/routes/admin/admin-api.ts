import type { z } from 'zod';
import type { GatewayKeySchema, TenantSchema } from '../../../contracts/admin.js';
import type { AdminStore, ApiKeyRecord, TenantRecord } from '../../../domain/admin-store.js';
import { GatewayError } from '../../../errors/gateway-error.js';
import type { GatewayApp } from '../../route-deps.js';

/** What the admin routes need. */
export interface AdminApiDeps {
  admin: AdminStore;
  /** ADMIN_TOKEN; undefined: every admin route answers 404 as if it did not exist. */
  token?: string;
  /** Tenants of the configuration (GATEWAY_API_KEYS, the file): keys may be added to them. */
  configTenants: ReadonlySet<string>;
  now: () => number;
}

export type AdminRoute = (app: GatewayApp, deps: AdminApiDeps) => void;

/** OpenAPI: the tag of the admin API. */
export const ADMIN_TAG = 'Admin';
/** OpenAPI: admin routes take the operator's ADMIN_TOKEN, not a gateway key. */
export const ADMIN_SECURITY = [{ adminToken: [] }];

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function tenantView(t: TenantRecord): z.infer<typeof TenantSchema> {
  return {
    id: t.id,
    object: 'tenant',
    name: t.name,
    budget: t.budget && { limit_usd: t.budget.limitUsd, period: t.budget.period },
    rate_limit: t.rateLimit && {
      max: t.rateLimit.max,
      window_seconds: Math.round(t.rateLimit.windowMs / 1000),
    },
    created_at: new Date(t.createdAt).toISOString(),
    updated_at: new Date(t.updatedAt).toISOString(),
  };
}

/** A key as listed: ids, name, prefix and rules; never the key, never its hash. */
export function keyView(k: ApiKeyRecord): z.infer<typeof GatewayKeySchema> {
  return {
    id: k.id,
    object: 'gateway_key',
    tenant: k.tenant,
    name: k.name,
    prefix: k.prefix,
    expires_at: iso(k.expiresAt),
    models: k.models,
    operations: k.operations,
    created_at: new Date(k.createdAt).toISOString(),
  };
}

export const tenantNotFound = (id: string) => new GatewayError('not_found', `No tenant ${id}`);

/** The tenant with this id; 404 when there is none. */
export async function existingTenant(admin: AdminStore, id: string): Promise<TenantRecord> {
  const tenant = await admin.getTenant(id);
  if (!tenant) throw tenantNotFound(id);
  return tenant;
}
