import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OutputRequest } from '../domain/output-service.js';
import { GatewayError } from '../errors/gateway-error.js';

/** What a download passes on of the client's request: its method, `Range` and `If-Range`. */
export function downloadRequestOf(request: FastifyRequest): Omit<OutputRequest, 'signal'> {
  const { range, 'if-range': ifRange } = request.headers;
  return {
    method: request.method === 'HEAD' ? 'HEAD' : 'GET',
    range: typeof range === 'string' ? range : undefined,
    ifRange: typeof ifRange === 'string' ? ifRange : undefined,
  };
}

/** The 416 of a range outside the file, with the file's `content-range` where it is known. */
export function rangeNotSatisfiable(
  reply: FastifyReply,
  out: { contentRange?: string },
  range: string | undefined,
): GatewayError {
  if (out.contentRange) reply.header('content-range', out.contentRange);
  return new GatewayError('range_not_satisfiable', `The range ${range} is outside the file`);
}
