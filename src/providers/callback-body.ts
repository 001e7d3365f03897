import type { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';

/**
 * Parses an already-authenticated callback body with the provider's wire schema; returns the
 * raw JSON too (for fields the schema does not keep). `what` names the expected shape.
 */
export function parseCallbackBody<S extends z.ZodType>(
  rawBody: string,
  schema: S,
  what: string,
): { json: unknown; parsed: z.infer<S> } {
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    throw GatewayError.invalid([], 'The callback body is not JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw GatewayError.invalid([], `The callback body is not ${what}`);
  return { json, parsed: parsed.data };
}
