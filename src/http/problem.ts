import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { ErrorCode } from '../errors/catalogue.js';
import { GatewayError, isGatewayError, type FieldError } from '../errors/gateway-error.js';
import type { Problem } from '../contracts/common.js';

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
export function toGatewayError(err: unknown): GatewayError {
  if (isGatewayError(err)) return err;
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

export function sendProblem(reply: FastifyReply, err: GatewayError): FastifyReply {
  if (err.retryAfterMs !== undefined)
    reply.header('retry-after', Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
  if (err.code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
  return reply
    .code(err.status)
    .type('application/problem+json')
    .send(toProblem(err, reply.request.id));
}

/**
 * The one place errors become HTTP answers (problem+json). Surfaces with their own error
 * dialect (Replicate, OpenAI) register a `renderError` decorator on their scope.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const err = toGatewayError(error);
    if (err.status >= 500) request.log.error({ err: error, code: err.code }, 'request failed');
    return sendProblem(reply, err);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new GatewayError('not_found', `No route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}
