import { GatewayError } from '../errors/gateway-error.js';

/**
 * Deepest nesting a request body may have. Nothing genway takes needs more than a handful of
 * levels; far deeper values (`[[[[...]]]]` 5,000 levels down, in a free-form field such as
 * `provider_options`) would overflow the stack of any recursive walk further on (validation,
 * idempotency fingerprints, storage) and turn a bad request into a 500.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests objects or arrays deeper than `max` levels (walked without recursion). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** The 400 for a body nested too deeply (checked right after parsing, before anything else). */
export function tooDeeplyNested(): GatewayError {
  return new GatewayError(
    'invalid_request',
    `The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep`,
  );
}
