import { GatewayError } from '../../errors/gateway-error.js';
import { retryAfterMs, scrub, type UpstreamResponse } from '../http-client.js';
import { ReplicateProblemSchema } from './wire.js';

/** When a 429 names no Retry-After: Replicate's own wording is "available in N second(s)". */
const DEFAULT_RATE_LIMIT_WAIT_MS = 10_000;

export type ReplicateCall = 'create' | 'poll' | 'cancel';

/** Replicate's problem text (`detail`, else `title`, else the HTTP status), secrets removed. */
function messageOf(res: UpstreamResponse, secrets: readonly string[]): string {
  const parsed = ReplicateProblemSchema.safeParse(res.json);
  const body = parsed.success ? parsed.data : undefined;
  const detail =
    typeof body?.detail === 'string'
      ? body.detail
      : body?.detail !== undefined
        ? JSON.stringify(body.detail)
        : undefined;
  const fields = body?.invalid_fields
    ?.map((f) => [f.field, f.description].filter(Boolean).join(': '))
    .filter(Boolean);
  const text =
    fields && fields.length > 0 && !detail
      ? fields.join('; ')
      : [body?.title, detail?.trim()].filter(Boolean).join(': ');
  return scrub(text || `HTTP ${res.status}`, secrets);
}

function waitHint(res: UpstreamResponse, message: string): number {
  const header = retryAfterMs(res.headers);
  if (header !== undefined) return header;
  const m = /available in (\d+) seconds?|resets in ~?(\d+)\s*s/i.exec(message);
  const seconds = m?.[1] ?? m?.[2];
  return seconds !== undefined ? Number(seconds) * 1000 : DEFAULT_RATE_LIMIT_WAIT_MS;
}

/**
 * A non-2xx answer of Replicate (or a relay) as a GatewayError. `retryable` marks transient
 * faults; the domain only repeats polls, never a create.
 */
export function replicateError(
  res: UpstreamResponse,
  call: ReplicateCall,
  secrets: readonly string[],
): GatewayError {
  const message = messageOf(res, secrets);
  const status = res.status;
  if (status === 401 || status === 403) {
    return new GatewayError(
      'upstream_auth_failed',
      `Replicate refused the gateway's token: ${message}`,
    );
  }
  if (status === 402) {
    return new GatewayError('upstream_credits_exhausted', `Replicate account: ${message}`);
  }
  if (status === 429) {
    return new GatewayError('upstream_rate_limited', `Replicate rate limit: ${message}`, {
      retryable: true,
      retryAfterMs: waitHint(res, message),
    });
  }
  if (status === 404) {
    return call === 'create'
      ? new GatewayError('model_not_found', `Replicate does not know this model: ${message}`, {
          errors: [{ path: 'model', message: `Replicate answered 404: ${message}` }],
        })
      : new GatewayError('upstream_rejected', `Replicate has no such prediction: ${message}`);
  }
  if (status >= 500) {
    return new GatewayError('upstream_error', `Replicate failed: ${message}`, { retryable: true });
  }
  return new GatewayError('upstream_rejected', `Replicate rejected the request: ${message}`);
}
