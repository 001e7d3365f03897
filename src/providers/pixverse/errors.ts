import { GatewayError } from '../../errors/gateway-error.js';
import { retryAfterMs, scrub, type UpstreamResponse } from '../http-client.js';
import { PixverseEnvelopeSchema, PixverseLowerEnvelopeSchema } from './wire.js';

/** When PixVerse gives no hint: its concurrency slots free up as running videos finish. */
const CONCURRENCY_RETRY_MS = 15_000;
const OVERLOAD_RETRY_MS = 5_000;
const HTTP_429_RETRY_MS = 5_000;

const PARAMETER_CODES = new Set([400011, 400013, 400017, 400018, 400019]);
const IMAGE_CODES = new Set([400032, 500030, 500031, 500032, 500033, 500041, 500042]);
const CREDIT_CODES = new Set([500043, 500090]);
/** 500052 is the upload spec's HTTP 500 moderation sample; 500054/500063 the error table's. */
const MODERATION_CODES = new Set([500052, 500054, 500063]);
/** The official MCP treats 10001-10005 as auth errors; 400012 invalid account, 500020 no permission. */
const AUTH_CODES = new Set([10001, 10002, 10003, 10004, 10005, 400012, 500020]);
const REJECT_CODES = new Set([500064, 500070, 500071]);

/** A business error (`ErrCode != 0`), under either envelope spelling, as a GatewayError. */
export function pixverseErrCodeError(
  code: number,
  rawMessage: string | null | undefined,
  secrets: readonly string[],
): GatewayError {
  const msg = rawMessage ? scrub(rawMessage, secrets) : 'no message';
  const said = `(ErrCode ${code}: ${msg})`;
  if (AUTH_CODES.has(code)) {
    return new GatewayError(
      'upstream_auth_failed',
      `PixVerse refused the gateway's API key or account ${said}`,
    );
  }
  if (PARAMETER_CODES.has(code)) {
    return new GatewayError('upstream_rejected', `PixVerse rejected the parameters ${said}`);
  }
  if (IMAGE_CODES.has(code)) {
    return new GatewayError(
      'upstream_rejected',
      `PixVerse could not use the image (png, webp or jpeg, under 20 MB and 4000x4000 px) ${said}`,
    );
  }
  if (CREDIT_CODES.has(code)) {
    return new GatewayError(
      'upstream_credits_exhausted',
      `The PixVerse account is out of credits ${said}`,
    );
  }
  if (code === 500060) {
    return new GatewayError(
      'upstream_credits_exhausted',
      `The PixVerse account reached its monthly effects limit ${said}`,
    );
  }
  if (code === 500044) {
    return new GatewayError(
      'upstream_rate_limited',
      `PixVerse's limit of concurrent generations is reached; retry when running videos finish ${said}`,
      { retryable: true, retryAfterMs: CONCURRENCY_RETRY_MS },
    );
  }
  if (MODERATION_CODES.has(code)) {
    return new GatewayError(
      'moderation_failed',
      `PixVerse content moderation refused the input ${said}`,
    );
  }
  if (code === 500069) {
    // A reasoned refusal: on a create, no job was started (never upstream_outcome_unknown).
    return new GatewayError('upstream_error', `PixVerse is overloaded; retry later ${said}`, {
      retryable: true,
      retryAfterMs: OVERLOAD_RETRY_MS,
      definitive: true,
    });
  }
  if (code === 500008) {
    return new GatewayError('upstream_error', `PixVerse has no data for this id ${said}`);
  }
  if (REJECT_CODES.has(code) || (code >= 400_000 && code < 500_000)) {
    return new GatewayError('upstream_rejected', `PixVerse rejected the request ${said}`);
  }
  // 500100 database error, 99999 unknown, and anything new: worth another poll.
  return new GatewayError('upstream_error', `PixVerse failed ${said}`, { retryable: true });
}

/**
 * Any non-success answer: HTTP 429, 401/403, a 5xx with or without an envelope (the upload's
 * lower-case one included), or an `ErrCode != 0` on HTTP 200.
 */
export function pixverseHttpError(res: UpstreamResponse, secrets: readonly string[]): GatewayError {
  const upper = PixverseEnvelopeSchema.safeParse(res.json);
  if (upper.success && upper.data.ErrCode !== 0) {
    return pixverseErrCodeError(upper.data.ErrCode, upper.data.ErrMsg, secrets);
  }
  const lower = PixverseLowerEnvelopeSchema.safeParse(res.json);
  if (lower.success && lower.data.err_code !== 0) {
    return pixverseErrCodeError(lower.data.err_code, lower.data.err_msg, secrets);
  }
  if (res.status === 429) {
    return new GatewayError(
      'upstream_rate_limited',
      'PixVerse is rate limiting requests (HTTP 429)',
      {
        retryable: true,
        retryAfterMs: retryAfterMs(res.headers) ?? HTTP_429_RETRY_MS,
      },
    );
  }
  if (res.status === 401 || res.status === 403) {
    return new GatewayError(
      'upstream_auth_failed',
      `PixVerse refused the gateway's API key (HTTP ${res.status})`,
    );
  }
  if (res.status >= 500) {
    return new GatewayError('upstream_error', `PixVerse failed (HTTP ${res.status})`, {
      retryable: true,
    });
  }
  if (res.status === 404) {
    return new GatewayError(
      'upstream_error',
      'PixVerse answered HTTP 404 for an API route (is PIXVERSE_BASE_URL right?)',
    );
  }
  if (res.status >= 400) {
    return new GatewayError(
      'upstream_rejected',
      `PixVerse rejected the request (HTTP ${res.status})`,
    );
  }
  return new GatewayError(
    'upstream_bad_response',
    `PixVerse answered HTTP ${res.status} without a readable envelope`,
    { retryable: true, credentialSignal: false },
  );
}
