import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  isReplayedError,
  isValidIdempotencyKey,
  type IdempotencyRequest,
  type IdempotencySurface,
  type IdempotentOutcome,
} from '../domain/idempotency.js';
import { GatewayError } from '../errors/gateway-error.js';

/**
 * `Idempotency-Key` on creates, shared by the three surfaces (each passes its own name, so
 * the same key on two surfaces is two keys). The rules live in domain/idempotency.ts.
 */

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Set on an answer that repeats an earlier request's outcome instead of starting a job. */
export const REPLAYED_HEADER = 'idempotent-replayed';

const KEY_MESSAGE = 'expected 1-255 printable ASCII characters';

export const IdempotencyKeyHeaderSchema = z
  .string()
  .regex(/^[\x20-\x7e]{1,255}$/, KEY_MESSAGE)
  .optional()
  .meta({
    description:
      'A key of your choice (1-255 printable ASCII characters, e.g. a UUID) that makes the create safe to repeat. The same key and body within IDEMPOTENCY_TTL_SECONDS (24 h by default) return the original outcome, marked `idempotent-replayed: true`, and never start a second job; the same key with another body is 422 `idempotency_key_reused`; while the first request is still running a repeat waits for it, or gets 409 `idempotency_key_in_progress` with Retry-After. Keys are per gateway key (tenant) and per API surface.',
    example: '8e0c4a52-3f7d-4d0a-9a0e-2b6c0f2f1a77',
  });

/** The request's key for TaskService.create, or undefined when it sent none. 400 if malformed. */
export function idempotencyOf(
  request: FastifyRequest,
  surface: IdempotencySurface,
): IdempotencyRequest | undefined {
  const raw = request.headers[IDEMPOTENCY_HEADER];
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw.join(', ') : raw;
  if (!isValidIdempotencyKey(key)) {
    throw GatewayError.invalid([{ path: `headers.${IDEMPOTENCY_HEADER}`, message: KEY_MESSAGE }]);
  }
  return { surface, key };
}

/** Marks a replayed answer (`idempotent-replayed: true`). */
export function markReplayed(reply: FastifyReply, replayed: boolean): FastifyReply {
  return replayed ? reply.header(REPLAYED_HEADER, 'true') : reply;
}

/**
 * Runs a (keyed) create and marks the reply when its outcome, a task or an error, repeats an
 * earlier request's.
 */
export async function keyedCreate(
  reply: FastifyReply,
  create: () => Promise<IdempotentOutcome>,
): Promise<IdempotentOutcome> {
  try {
    const outcome = await create();
    markReplayed(reply, outcome.replayed);
    return outcome;
  } catch (err) {
    markReplayed(reply, isReplayedError(err));
    throw err;
  }
}
