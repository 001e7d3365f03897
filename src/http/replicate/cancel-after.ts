import { MAX_TIMEOUT_SECONDS } from '../../contracts/create.js';
import { GatewayError } from '../../errors/gateway-error.js';

/** Replicate's smallest deadline: shorter `Cancel-After` values are refused, as Replicate does. */
export const MIN_CANCEL_AFTER_SECONDS = 5;

const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/**
 * `Cancel-After` in Replicate's duration syntax (`30s`, `5m`, `1h30m`, `90` = seconds) as whole
 * seconds; undefined without the header. A malformed value, one under 5 s or over a day is a
 * 400 naming the header, before anything is created.
 */
export function cancelAfterSeconds(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = [header].flat().join(',').trim();
  const match = /^\d+$/.test(value) ? [value, undefined, undefined, value] : DURATION.exec(value);
  const seconds =
    match && value !== ''
      ? Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0)
      : NaN;
  if (!(seconds >= MIN_CANCEL_AFTER_SECONDS && seconds <= MAX_TIMEOUT_SECONDS)) {
    const message = `expected a duration from ${MIN_CANCEL_AFTER_SECONDS}s to 24h like 30s, 5m or 1h30m; got ${JSON.stringify(value.slice(0, 40))}`;
    throw GatewayError.invalid(
      [{ path: 'headers.cancel-after', message }],
      `Invalid Cancel-After header: ${message}`,
    );
  }
  return seconds;
}
