import type { FieldError } from '../errors/gateway-error.js';

/** Type of one allow-listed provider option: a primitive kind or the list of allowed values. */
export type OptionKind = 'string' | 'number' | 'integer' | 'boolean' | 'yesno' | readonly string[];

/** Checks `provider_options` against a provider's allowlist; one FieldError per problem. */
export function checkProviderOptions(
  options: Record<string, unknown> | undefined,
  allowlist: Readonly<Record<string, OptionKind>>,
  provider: string,
): FieldError[] {
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(options ?? {})) {
    const kind = allowlist[key];
    const path = `provider_options.${key}`;
    if (!Object.hasOwn(allowlist, key) || kind === undefined) {
      errors.push({
        path,
        message: `not an option of ${provider}; allowed: ${Object.keys(allowlist).join(', ')}`,
      });
    } else if (!fits(value, kind)) {
      const expected = Array.isArray(kind)
        ? `one of ${kind.join(', ')}`
        : kind === 'yesno'
          ? '"yes" or "no"'
          : `a ${kind}`;
      errors.push({ path, message: `expected ${expected}` });
    }
  }
  return errors;
}

function fits(value: unknown, kind: OptionKind): boolean {
  if (Array.isArray(kind)) return typeof value === 'string' && kind.includes(value);
  switch (kind) {
    case 'string':
      return typeof value === 'string' && value.length <= 2048;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'yesno':
      return value === 'yes' || value === 'no';
  }
  return false;
}
