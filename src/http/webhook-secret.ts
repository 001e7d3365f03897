import type { Config } from '../config/config.js';
import { GatewayError } from '../errors/gateway-error.js';

/**
 * The tenant's own webhook signing secret (GATEWAY_CONFIG `tenants[].webhook_secret`, else
 * derived from WEBHOOK_SECRET); 404 `not_found` when it has none. Only ever answered to that
 * tenant: the routes that call this take the tenant from the caller's gateway key.
 */
export function webhookSecretOf(config: Config, tenant: string): string {
  const secret = config.tenants.find((t) => t.id === tenant)?.webhookSecret;
  if (!secret) {
    throw new GatewayError(
      'not_found',
      'Webhooks are not enabled for this tenant (no signing secret: WEBHOOK_SECRET or tenants[].webhook_secret)',
    );
  }
  return secret;
}
