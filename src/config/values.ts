import { z } from 'zod';

/** Zod building blocks for configuration values, shared by config/ and the provider modules. */

/** A comma-separated variable as a list of its non-empty, trimmed items. */
export const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export const boolString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** An http(s) URL, without trailing slashes. */
export const httpUrl = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ''));

export const intString = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** A duration: milliseconds (`60000`), or a number and a unit (`30s`, `1m`, `1 minute`, `2h`). */
export const duration = durationUpTo(86_400_000, '24 h', '1h');

/** A duration of up to 10 years, e.g. `30d` (media retention). */
export const longDuration = durationUpTo(10 * 365 * 86_400_000, '10 years', '30d');

function durationUpTo(maxMs: number, maxText: string, example: string) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(v));
    const unit = m ? DURATION_UNITS[(m[2] || 'ms').toLowerCase()] : undefined;
    const ms = m && unit ? Math.round(Number(m[1]) * unit) : NaN;
    if (!(ms >= 1 && ms <= maxMs)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration of 1 ms to ${maxText}: milliseconds, or e.g. 30s, 1m, 1 minute, ${example}`,
      });
      return z.NEVER;
    }
    return ms;
  });
}
