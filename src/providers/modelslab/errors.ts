import { GatewayError } from '../../errors/gateway-error.js';
import { scrub } from '../http-client.js';
import { messageOf } from './mapping.js';
import type { ModelslabAnswer } from './wire.js';

/**
 * ModelsLab errors come as `{status:"error", message|messege}` on HTTP 200 or with a real
 * 4xx/5xx (both happen); HTTP status and message text are read together.
 */
export function modelslabError(
  httpStatus: number,
  answer: ModelslabAnswer | undefined,
  secrets: string[],
  /** The HTTP `Retry-After` header, in ms, when the answer carried one. */
  headerRetryAfterMs?: number,
): GatewayError {
  const raw = answer ? messageOf(answer) : undefined;
  const message = raw ? scrub(raw, secrets) : `HTTP ${httpStatus}`;
  const text = message.toLowerCase();
  if (
    httpStatus === 401 ||
    httpStatus === 403 ||
    /api key|unauthori[sz]ed|invalid key/.test(text)
  ) {
    return new GatewayError(
      'upstream_auth_failed',
      `ModelsLab refused the gateway's key: ${message}`,
    );
  }
  if (httpStatus === 402 || /credit|balance|insufficient|subscription/.test(text)) {
    return new GatewayError('upstream_credits_exhausted', `ModelsLab account: ${message}`);
  }
  if (httpStatus === 429 || /rate limit|queued requests|queue/.test(text)) {
    const retryAfter = answer?.retry_after;
    return new GatewayError('upstream_rate_limited', `ModelsLab queue is full: ${message}`, {
      retryable: true,
      retryAfterMs: retryAfter !== undefined ? retryAfter * 1000 : (headerRetryAfterMs ?? 30_000),
    });
  }
  if (httpStatus >= 500) {
    return new GatewayError('upstream_error', `ModelsLab failed: ${message}`, { retryable: true });
  }
  return new GatewayError('upstream_rejected', `ModelsLab rejected the request: ${message}`);
}
