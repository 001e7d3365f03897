import { GatewayError } from '../errors/gateway-error.js';

/** Form (multipart) bodies as genway's JSON shapes: nested keys, numbers, image files. */

const SIGNATURES: { type: string; test: (b: Buffer) => boolean }[] = [
  {
    type: 'image/png',
    test: (b) => b.subarray(0, 8).equals(Buffer.from('89504e470d0a1a0a', 'hex')),
  },
  { type: 'image/jpeg', test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  {
    type: 'image/webp',
    test: (b) =>
      b.subarray(0, 4).toString('latin1') === 'RIFF' &&
      b.subarray(8, 12).toString('latin1') === 'WEBP',
  },
  { type: 'image/gif', test: (b) => b.subarray(0, 4).toString('latin1') === 'GIF8' },
];

/** An uploaded image as a `data:` URL; its type comes from its bytes, not its label. */
export function imageFileDataUrl(bytes: Buffer, field: string): string {
  const type = SIGNATURES.find((s) => s.test(bytes))?.type;
  if (!type) {
    throw GatewayError.invalid([
      { path: field, message: 'expected a PNG, JPEG, WebP or GIF image file' },
    ]);
  }
  return `data:${type};base64,${bytes.toString('base64')}`;
}

/**
 * Multipart bodies arrive flat, with nested keys
 * bracketed (`input_reference[image_url]`) and every value a string: this rebuilds the
 * object and turns the numeric fields genway knows back into numbers.
 */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function unbracket(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    const path = match
      ? [match[1]!, ...[...match[2]!.matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1]!)]
      : [key];
    if (path.some((segment) => UNSAFE_KEYS.has(segment))) continue;
    let node: Record<string, unknown> = out;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i]!;
      // The last segment holds the value; `a[]` (array entries) keeps them as an array.
      if (i === path.length - 1 || path[i + 1] === '') {
        node[segment] = i === path.length - 1 || Array.isArray(value) ? value : [value];
        break;
      }
      const next = node[segment];
      const isObject =
        next !== null && typeof next === 'object' && !Array.isArray(next) && !Buffer.isBuffer(next);
      if (!isObject) node[segment] = {};
      node = node[segment] as Record<string, unknown>;
    }
  }
  return out;
}

const NUMERIC = /^\s*-?\d+(?:\.\d+)?\s*$/;

/** Numeric strings (as multipart sends every field) → numbers, for the given fields. */
export function coerceNumbers(body: Record<string, unknown>, fields: readonly string[]): void {
  for (const field of fields) {
    const value = body[field];
    if (typeof value === 'string' && NUMERIC.test(value)) body[field] = Number(value);
  }
}
