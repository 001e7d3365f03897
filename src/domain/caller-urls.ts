import { GatewayError, isGatewayError, type FieldError } from '../errors/gateway-error.js';
import type { GenerationInput, ProviderAdapter } from './ports.js';

/** A URL from the caller that a create hands to the upstream, which fetches it itself. */
export interface CallerUrl {
  /** The request field it came from (`image`, `video`, `input.image`, ...). */
  field: string;
  url: string;
}

/** Normalized fields whose URLs the upstream fetches (genway passes them on). */
export const URL_INPUTS = ['image', 'video'] as const;
export type UrlInput = (typeof URL_INPUTS)[number];

const HTTP_URL = /^https?:\/\//i;
/** How deep a raw input is searched for URLs (raw inputs are flat; arrays of files nest once). */
const MAX_DEPTH = 4;

/**
 * The caller URLs of a create: `image` and `video` when they are http(s) URLs (a `data:` URL or
 * a task id is not fetched by anyone but genway), and, for a compatible surface's raw input
 * (passed to the upstream as it is), every http(s) string in it, nested ones included.
 */
export function callerUrlsOf(input: GenerationInput, raw?: Record<string, unknown>): CallerUrl[] {
  const urls: CallerUrl[] = [];
  for (const field of URL_INPUTS) {
    const value = input[field];
    if (typeof value === 'string' && HTTP_URL.test(value)) urls.push({ field, url: value });
  }
  const walk = (value: unknown, path: string, depth: number) => {
    if (typeof value === 'string') {
      if (HTTP_URL.test(value)) urls.push({ field: path, url: value });
    } else if (value !== null && typeof value === 'object' && depth < MAX_DEPTH) {
      for (const [key, inner] of Object.entries(value)) walk(inner, `${path}.${key}`, depth + 1);
    }
  };
  if (raw) walk(raw, 'input', 0);
  return urls;
}

/**
 * Caller URLs in plain `http:` where the upstream does not document it: `plainHttp` lists the
 * normalized fields for which it does (e.g. a source image the upstream documents as http or https); raw inputs never.
 */
export function plainHttpErrors(
  urls: readonly CallerUrl[],
  plainHttp: readonly UrlInput[],
  provider: string,
): FieldError[] {
  return urls
    .filter((u) => /^http:/i.test(u.url) && !(plainHttp as readonly string[]).includes(u.field))
    .map((u) => ({
      path: u.field,
      message: `${provider} needs an https:// URL here, not http://`,
    }));
}

/**
 * Every caller URL of a create, before anything is stored or sent: https unless the provider
 * documents http for the field, and at an address `check` accepts (genway's outbound rules).
 * Throws one 400 listing every refused URL.
 */
export async function checkCallerUrls(
  urls: readonly CallerUrl[],
  target: { provider: string; adapter: Pick<ProviderAdapter, 'plainHttpInputs'> },
  check: ((field: string, url: string) => Promise<void>) | undefined,
): Promise<void> {
  if (urls.length === 0) return;
  const errors = plainHttpErrors(urls, target.adapter.plainHttpInputs ?? [], target.provider);
  if (check) {
    const bad = new Set(errors.map((e) => e.path));
    const results = await Promise.allSettled(
      urls.filter((u) => !bad.has(u.field)).map((u) => check(u.field, u.url)),
    );
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      const err: unknown = result.reason;
      if (!isGatewayError(err) || !err.errors) throw err;
      errors.push(...err.errors);
    }
  }
  if (errors.length > 0) throw GatewayError.invalid(errors);
}
