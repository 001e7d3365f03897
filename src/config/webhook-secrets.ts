import { hkdfSync } from 'node:crypto';

/** Domain separation of the derivation: a new version gives every tenant a new secret. */
const SALT = 'genway tenant webhook signing secret v1';

/**
 * A tenant's own `whsec_` signing secret, derived from WEBHOOK_SECRET and the tenant id with
 * HKDF-SHA256 (RFC 5869): stable across restarts and instances, different per tenant, and no
 * tenant's secret reveals WEBHOOK_SECRET or another tenant's. Encoded as standard base64 after
 * `whsec_` (never base64url: official clients' `validateWebhook` take the part after the last `_`).
 */
export function deriveTenantWebhookSecret(master: string, tenantId: string): string {
  const key = Buffer.from(master.replace(/^whsec_/, ''), 'base64');
  const derived = hkdfSync('sha256', key, SALT, `tenant:${tenantId}`, 32);
  return `whsec_${Buffer.from(derived).toString('base64')}`;
}
