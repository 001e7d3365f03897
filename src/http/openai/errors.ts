import type { FastifyError, FastifyReply } from 'fastify';
import { OpenAIErrorSchema, type OpenAIErrorBody } from '../../contracts/openai.js';
import type { ErrorCode } from '../../errors/catalogue.js';
import { GatewayError, isGatewayError } from '../../errors/gateway-error.js';
import { toGatewayError } from '../problem.js';
import { documentedErrors } from '../surface.js';
import { toOpenAIParam } from './mapping.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * An `/openai/v1` create (it may start a paid job): its failures that the official client
     * would re-send (408, 409, 429, 5xx) carry `x-should-retry: false`.
     */
    openaiCreate?: boolean;
  }
}

/** Statuses on which the official `openai` client re-sends a request by itself. */
const SDK_RETRIED = (status: number) =>
  status === 408 || status === 409 || status === 429 || status >= 500;

/**
 * Status on this surface where it differs from the catalogue. `output_not_ready` is 409
 * elsewhere, but the SDK re-sends on 409: a download of an unfinished video must fail once.
 */
const STATUS_OVERRIDES: Partial<Record<ErrorCode, number>> = { output_not_ready: 400 };

/** Errors of @fastify/multipart, which the shared mapping does not know. */
const MULTIPART_CODES: Record<string, ErrorCode> = {
  FST_REQ_FILE_TOO_LARGE: 'payload_too_large',
  FST_PARTS_LIMIT: 'payload_too_large',
  FST_FILES_LIMIT: 'payload_too_large',
  FST_FIELDS_LIMIT: 'payload_too_large',
  FST_PROTO_VIOLATION: 'invalid_request',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'invalid_request',
  FST_INVALID_JSON_FIELD_ERROR: 'invalid_request',
};

/**
 * Errors of the multipart parser (busboy) itself, which carry neither a code nor a status: a
 * `multipart/form-data` body without a boundary, or one that ends before its closing boundary.
 */
const MALFORMED_MULTIPART =
  /^(Multipart: Boundary not found|Unexpected end of multipart data|.* terminated early due to unexpected end of multipart data|Malformed part header|Boundary required)$/;

function typeOf(code: ErrorCode, status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 409) return 'conflict_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return code === 'upstream_timeout' ? 'timeout_error' : 'api_error';
  return 'invalid_request_error';
}

export interface RenderedOpenAIError {
  status: number;
  body: OpenAIErrorBody;
}

/** A GatewayError in OpenAI's envelope; field paths are given back in OpenAI's names. */
export function toOpenAIError(err: GatewayError): RenderedOpenAIError {
  const status = STATUS_OVERRIDES[err.code] ?? err.status;
  const first = err.errors?.[0];
  return {
    status,
    body: {
      error: {
        message: err.message,
        type: typeOf(err.code, status),
        param: first ? toOpenAIParam(first.path) : null,
        code: err.code,
      },
    },
  };
}

/** Any thrown value as a GatewayError, knowing the multipart plugin's own errors too. */
export function toOpenAIGatewayError(error: unknown): GatewayError {
  if (isGatewayError(error)) return error;
  const code = (error as FastifyError | undefined)?.code;
  const mapped = code ? MULTIPART_CODES[code] : undefined;
  if (mapped) return new GatewayError(mapped, (error as Error).message);
  if (error instanceof Error && !code && MALFORMED_MULTIPART.test(error.message)) {
    return new GatewayError('invalid_request', `Malformed multipart body: ${error.message}`);
  }
  return toGatewayError(error);
}

/**
 * Whether a failed create may have reached the provider (so a second try could start a second
 * paid job). Only errors that prove nothing was sent say no: a connection that never opened,
 * or genway's own rate limit and credential pool, which refuse before any upstream call.
 */
function mayHaveStartedJob(err: GatewayError): boolean {
  if (err.requestSent === false) return false;
  // idempotency_key_in_progress: a repeat with the same key gets the first request's result.
  return (
    err.code !== 'rate_limited' &&
    err.code !== 'no_credential_available' &&
    err.code !== 'idempotency_key_in_progress'
  );
}

/**
 * OpenAI's envelope, status and content type; on a create, `x-should-retry` tells the official
 * client whether re-sending is safe (`retry-after` and the challenge are set by the caller).
 */
export function renderOpenAIError(reply: FastifyReply, err: GatewayError): FastifyReply {
  const { status, body } = toOpenAIError(err);
  if (reply.request.routeOptions.config?.openaiCreate && SDK_RETRIED(status)) {
    reply.header('x-should-retry', mayHaveStartedJob(err) ? 'false' : 'true');
  }
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: `param` names the (first) bad field; also a video not ready to download',
  401: 'Missing or invalid gateway key (`Authorization: Bearer <gateway key>`)',
  402: "The tenant's budget does not cover the task's estimate (`budget_exceeded`)",
  403: 'The gateway key may not use this model or operation',
  404: 'No such video for this key; for `variant=thumbnail`, no poster image (`thumbnail_not_available`)',
  409: 'A request with the same Idempotency-Key is still in progress; see Retry-After',
  413: 'Body or file too large',
  415: 'Unsupported content type (JSON or multipart/form-data)',
  416: 'The byte range is outside the file',
  422: 'Refused by the provider (content, parameters)',
  429: 'Rate limited, or the provider queue is full; see Retry-After',
  502: 'The provider failed or refused the gateway credentials',
  503: 'The provider is unreachable or not configured',
  504: 'The provider did not answer in time',
};

/** Documented error answers of an `/openai/v1` route. */
export const openaiErrorResponses = documentedErrors(OpenAIErrorSchema, DESCRIPTIONS);
