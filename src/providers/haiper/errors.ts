import { GatewayError } from '../../errors/gateway-error.js';
import { retryAfterMs, scrub, type UpstreamResponse } from '../http-client.js';
import { upstreamMessageOf } from './mapping.js';

export interface HaiperErrorContext {
  /** A create (POST) or a poll (GET of one task). */
  phase: 'create' | 'poll';
  taskId?: string;
}

/**
 * Cloudsway documents no error model, so errors are mapped by HTTP status; the message of a
 * `{error:{message,code}}` body (Haiper's own envelope) is added when present, scrubbed.
 */
export function haiperError(
  res: Pick<UpstreamResponse, 'status' | 'headers' | 'json'>,
  secrets: readonly string[],
  context: HaiperErrorContext,
): GatewayError {
  const status = res.status;
  const raw = upstreamMessageOf(res.json);
  const detail = raw ? `HTTP ${status}: ${scrub(raw, secrets)}` : `HTTP ${status}`;
  if (status === 401 || status === 403) {
    return new GatewayError(
      'upstream_auth_failed',
      `Haiper (Cloudsway) refused the gateway's access key (${detail})`,
    );
  }
  if (status === 402) {
    return new GatewayError('upstream_credits_exhausted', `Haiper (Cloudsway) account: ${detail}`);
  }
  if (status === 429) {
    return new GatewayError(
      'upstream_rate_limited',
      `Haiper (Cloudsway) is at its limit (${detail})`,
      {
        retryable: true,
        retryAfterMs: retryAfterMs(res.headers),
      },
    );
  }
  if (status === 408) {
    return new GatewayError('upstream_timeout', `Haiper (Cloudsway) timed out (${detail})`, {
      retryable: true,
    });
  }
  if (status >= 500) {
    return new GatewayError('upstream_error', `Haiper (Cloudsway) failed (${detail})`, {
      retryable: true,
      retryAfterMs: retryAfterMs(res.headers),
    });
  }
  if (status === 404) {
    return context.phase === 'poll'
      ? new GatewayError(
          'upstream_error',
          `Haiper no longer knows task ${context.taskId ?? ''} (${detail}); the job is lost`,
        )
      : new GatewayError(
          'upstream_error',
          `Cloudsway has no Haiper route at the configured address (${detail}); check HAIPER_BASE_URL and HAIPER_ENDPOINT_PATH`,
        );
  }
  return new GatewayError('upstream_rejected', `Haiper rejected the request (${detail})`);
}
