import { GatewayError, isGatewayError } from '../errors/gateway-error.js';

/**
 * What a failed `adapter.start` says about the upstream job (architecture §5: a create that
 * may have reached the upstream is never sent again):
 * - `not-sent`: the request provably never left (connect refused, DNS, connect timeout, a
 *   refusal by genway's own credential pool): the create may go to another credential or a
 *   configured fallback model.
 * - `refused`: the upstream answered with a definitive refusal (validation, moderation, auth,
 *   credits, rate limit, a business error it marks `definitive`): no job exists; the task
 *   fails with that error's own code.
 * - `unknown`: the upstream may have started the job (timeout after sending, connection
 *   reset mid-answer, a 5xx without a definitive body, an unreadable 2xx answer, an
 *   unexpected error): never re-sent; recovered where the adapter can find the job, else
 *   failed with `upstream_outcome_unknown`.
 */
export type StartFailure = 'not-sent' | 'refused' | 'unknown';

export function startFailureOf(err: unknown): StartFailure {
  if (!isGatewayError(err)) return 'unknown';
  if (err.requestSent === false) return 'not-sent';
  if (err.definitive !== undefined) return err.definitive ? 'refused' : 'unknown';
  switch (err.code) {
    case 'upstream_timeout':
    case 'upstream_bad_response':
    case 'upstream_outcome_unknown':
    case 'internal':
      return 'unknown';
    case 'upstream_error':
    case 'upstream_unavailable':
      // Transient faults (5xx, broken connections) may hide a started job; a non-retryable
      // upstream_error is a reasoned refusal (e.g. "no such route": nothing ran).
      return err.retryable ? 'unknown' : 'refused';
    default:
      return 'refused';
  }
}

/** The error a create answers when the upstream may have started the job unseen. */
export function outcomeUnknownError(
  provider: string,
  taskId: string,
  cause: unknown,
): GatewayError {
  const why = isGatewayError(cause) ? cause.message : 'an unexpected error';
  return new GatewayError(
    'upstream_outcome_unknown',
    `${provider} may have started the job, but no usable answer came back (${why}). genway never sends a create twice: task ${taskId} is marked failed with upstream_outcome_unknown; check the provider's dashboard before creating it again.`,
    { cause },
  );
}
