import type { FastifyReply } from 'fastify';
import type { ReplicateProblemBody } from '../../contracts/replicate.js';
import { ReplicateProblemSchema } from '../../contracts/replicate.js';
import type { GatewayError } from '../../errors/gateway-error.js';
import { documentedErrors } from '../surface.js';

/**
 * The one error renderer of `/replicate/v1`: Replicate's problem shape `{title, detail, status}`
 * (`application/problem+json`, as Replicate sends it), with Replicate's titles where a
 * Replicate client may look at them. Codes map as genway's own surface does, except:
 * invalid bodies → 422 "Input validation failed" with `invalid_fields` (Replicate's answer to
 * a body that fails its schema), unknown versions → 422 "Invalid version or not permitted".
 */
export function toReplicateProblem(err: GatewayError): ReplicateProblemBody {
  switch (err.code) {
    case 'unauthorized':
      return { title: 'Unauthenticated', detail: err.message, status: 401 };
    case 'not_found':
    case 'task_not_found':
      return { title: 'Not found', detail: err.message, status: 404 };
    case 'invalid_request': {
      const fields = (err.errors ?? []).map((e) => ({
        type: 'invalid',
        field: e.path,
        description: e.message,
      }));
      // Only a body that fails the schema is Replicate's 422; bad query or path values are 400.
      const inBody = fields.every((f) => !/^(querystring|params|headers)\./.test(f.field));
      if (fields.length === 0 || !inBody) {
        return { title: 'Bad request', detail: err.message, status: 400 };
      }
      const detail = fields.map((f) => `- ${f.field}: ${f.description}\n`).join('');
      return { title: 'Input validation failed', detail, status: 422, invalid_fields: fields };
    }
    case 'malformed_json':
      return { title: 'Bad request', detail: err.message, status: 400 };
    case 'model_not_found':
      return { title: 'Invalid version or not permitted', detail: err.message, status: 422 };
    default:
      return { title: err.title, detail: err.message, status: err.status };
  }
}

/** Replicate's problem shape, status and content type (`retry-after` is set by the caller). */
export function renderReplicateProblem(reply: FastifyReply, err: GatewayError): FastifyReply {
  const body = toReplicateProblem(err);
  return reply.code(body.status).type('application/problem+json').send(body);
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Bad request (malformed JSON, bad cursor)',
  401: 'Missing or invalid gateway key (`Bearer` or `Token`)',
  402: "The tenant's budget does not cover the task's estimate (`budget_exceeded`)",
  403: 'The gateway key may not use this model or operation',
  404: 'No such prediction for this key (or an invalid id)',
  409: 'The prediction cannot be canceled yet; on a create: a request with the same Idempotency-Key is still in progress (see Retry-After)',
  413: 'Body too large',
  415: 'Unsupported content type (send application/json)',
  422: 'Invalid body, unknown version, or refused by Replicate (detail says which)',
  429: 'Rate limited; see Retry-After',
  502: 'Replicate failed or refused the gateway credentials',
  503: 'Replicate unreachable or not configured',
  504: 'Replicate did not answer in time',
};

/** Documented error answers of a `/replicate/v1` route. */
export const replicateProblemResponses = documentedErrors(ReplicateProblemSchema, DESCRIPTIONS);
