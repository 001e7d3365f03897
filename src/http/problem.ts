import type { FastifyError, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { ErrorCode } from '../errors/catalogue.js';
import { GatewayError, isGatewayError, type FieldError } from '../errors/gateway-error.js';
import { StoreUnavailableError } from '../domain/task-store.js';
import { ProblemSchema, type Problem } from '../contracts/common.js';
import { documentedErrors, sendSurfaceError, type Surface } from './surface.js';

export const problemType = (code: string) => `urn:genway:error:${code}`;

/** Fastify's own errors (parsers, limits) mapped onto the catalogue. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_ERR_BAD_URL: 'invalid_request',
  FST_ERR_MAX_PARAM_LENGTH: 'invalid_request',
  FST_ERR_ASYNC_CONSTRAINT: 'invalid_request',
};

function fieldErrors(err: FastifyError): FieldError[] {
  if (!hasZodFastifySchemaValidationErrors(err)) return [];
  const where =
    err.validationContext && err.validationContext !== 'body' ? `${err.validationContext}.` : '';
  return err.validation.flatMap((v) => {
    const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const keys = (v.params as { keys?: string[] }).keys;
    if (v.keyword === 'unrecognized_keys' && keys) {
      return keys.map((k) => ({
        path: `${where}${path ? `${path}.` : ''}${k}`,
        message: 'Unknown field',
      }));
    }
    return [{ path: `${where}${path}` || '(body)', message: v.message ?? 'Invalid value' }];
  });
}

/** Any thrown value as a GatewayError; unknown errors become `internal` with no details. */
/** A networked store reconnects within about a second (see store/redis/connection.ts). */
const STORE_RETRY_AFTER_MS = 2000;

export function toGatewayError(err: unknown): GatewayError {
  if (isGatewayError(err)) return err;
  if (err instanceof StoreUnavailableError) {
    return new GatewayError(
      'store_unavailable',
      'The task store cannot be reached; retry shortly',
      {
        retryAfterMs: STORE_RETRY_AFTER_MS,
      },
    );
  }
  const fe = err as FastifyError;
  const errors = fieldErrors(fe);
  if (errors.length > 0) return GatewayError.invalid(errors);
  const mapped = fe?.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return new GatewayError(mapped, fe.message);
  if (fe?.statusCode === 429) return new GatewayError('rate_limited', fe.message);
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new GatewayError(fe.statusCode === 404 ? 'not_found' : 'invalid_request', fe.message);
  }
  return new GatewayError(
    'internal',
    'An unexpected error occurred; it has been logged with the request id',
  );
}

export function toProblem(err: GatewayError, requestId: string): Problem {
  return {
    type: problemType(err.code),
    title: err.title,
    status: err.status,
    detail: err.message,
    code: err.code,
    request_id: requestId,
    ...(err.errors ? { errors: err.errors } : {}),
  };
}

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: `errors` lists every bad field (the first 50)',
  401: 'Missing or invalid gateway key',
  402: "The tenant's budget does not cover the task's estimate (`budget_exceeded`)",
  403: 'The gateway key may not use this model or operation',
  404: 'No such resource for this tenant',
  409: 'Conflict with the current state',
  410: 'Gone upstream',
  413: 'Body too large',
  415: 'Unsupported content type',
  416: 'The byte range is outside the file',
  422: 'Refused by the provider or reused Idempotency-Key',
  429: "Rate limited (`rate_limited`: this gateway key's requests per window, see the `x-ratelimit-*` headers) or every credential of the provider busy (`upstream_rate_limited`); see Retry-After",
  500: 'Unexpected error',
  502: 'The provider failed or refused the gateway credentials',
  503: 'Not ready / provider unreachable',
  504: 'The provider did not answer in time',
};

/** Documented error answers of a route: the problem+json body under each status. */
export const problemResponses = documentedErrors(ProblemSchema, PROBLEM_DESCRIPTIONS);

/**
 * genway's own surface (`/v1`): errors are problem+json. It is also how the routes outside
 * every surface (health, docs, media, callbacks) and unknown URLs are answered.
 */
export const NORMALIZED_SURFACE: Surface<typeof ProblemSchema> = {
  prefix: '/v1',
  toError: toGatewayError,
  render: (reply, err) =>
    reply.code(err.status).type('application/problem+json').send(toProblem(err, reply.request.id)),
  challenge: 'Bearer',
  authMessages: {
    missing: 'Send Authorization: Bearer <gateway key>',
    invalid: 'The gateway key is not valid',
  },
  errorDocs: { schema: ProblemSchema, mediaType: 'application/problem+json' },
  errorResponses: problemResponses,
};

export function sendProblem(reply: FastifyReply, err: GatewayError): FastifyReply {
  return sendSurfaceError(reply, NORMALIZED_SURFACE, err);
}
