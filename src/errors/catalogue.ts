/**
 * Every error genway can report, with its HTTP status and a stable, documented code. Task
 * errors (`task.error.code`) use the same codes. Rendered in exactly one place
 * (http/plugins/problem.ts for HTTP, domain for tasks).
 */
export const ERROR_CATALOGUE = {
  invalid_request: { status: 400, title: 'The request is invalid' },
  malformed_json: { status: 400, title: 'The request body is not valid JSON' },
  model_not_found: { status: 400, title: 'Unknown model' },
  unsupported_operation: { status: 400, title: 'The model does not support this operation' },
  unauthorized: { status: 401, title: 'A valid gateway key is required' },
  callback_unauthorized: {
    status: 401,
    title: 'The upstream callback is not authentic (token, signature or timestamp)',
  },
  budget_exceeded: { status: 402, title: "The tenant's budget does not cover this task" },
  model_not_allowed: { status: 403, title: 'This gateway key may not use this model' },
  operation_not_allowed: { status: 403, title: 'This gateway key may not use this operation' },
  callback_mismatch: { status: 403, title: 'The upstream callback does not belong to this task' },
  media_link_invalid: { status: 403, title: 'The media link is not valid (altered or forged)' },
  media_link_expired: {
    status: 403,
    title: 'The media link has expired; read the task again for a fresh one',
  },
  not_found: { status: 404, title: 'Not found' },
  task_not_found: { status: 404, title: 'Task not found' },
  output_not_found: { status: 404, title: 'Output not found' },
  thumbnail_not_available: { status: 404, title: 'No poster image exists for this video' },
  cancel_not_supported: { status: 409, title: 'The provider cannot cancel tasks' },
  tenant_exists: { status: 409, title: 'A tenant with this id exists' },
  task_already_finished: { status: 409, title: 'The task has already finished' },
  output_not_ready: { status: 409, title: 'The task has no outputs yet' },
  idempotency_key_in_progress: {
    status: 409,
    title: 'A request with this Idempotency-Key is in progress',
  },
  output_expired: { status: 410, title: 'The output link has expired upstream' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  range_not_satisfiable: { status: 416, title: 'The requested byte range is not in the file' },
  unsupported_media_type: { status: 415, title: 'Unsupported content type' },
  idempotency_key_reused: { status: 422, title: 'Idempotency-Key reused with a different body' },
  upstream_rejected: { status: 422, title: 'The provider rejected the request' },
  moderation_failed: { status: 422, title: 'The provider refused the content (moderation)' },
  rate_limited: { status: 429, title: 'Too many requests' },
  upstream_rate_limited: { status: 429, title: 'The provider is at its limit; retry later' },
  internal: { status: 500, title: 'Internal error' },
  upstream_error: { status: 502, title: 'The provider failed' },
  upstream_auth_failed: { status: 502, title: 'The provider refused the gateway credentials' },
  upstream_credits_exhausted: { status: 502, title: 'The provider account has no credits left' },
  upstream_outcome_unknown: {
    status: 502,
    title: 'The provider may or may not have started the job',
  },
  upstream_bad_response: { status: 502, title: 'The provider sent an answer genway cannot read' },
  upstream_unavailable: { status: 503, title: 'The provider is unreachable' },
  no_credential_available: { status: 503, title: 'No usable credential for this provider' },
  store_unavailable: { status: 503, title: 'The task store is unreachable; retry shortly' },
  upstream_timeout: { status: 504, title: 'The provider did not answer in time' },
  /** A task error only: the task passed its `timeout_seconds` / `Cancel-After` deadline. */
  deadline_exceeded: { status: 504, title: 'The task did not finish before its deadline' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
