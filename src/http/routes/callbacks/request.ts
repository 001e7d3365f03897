import type { FastifyRequest } from 'fastify';
import type { CallbackRequest } from '../../../domain/ports.js';
import type { UpstreamCallbackService } from '../../../domain/upstream-callbacks.js';

export interface CallbackRouteDeps {
  callbacks: UpstreamCallbackService;
}

/** Callback bodies are small JSON documents; a Replicate prediction echoes its input. */
export const CALLBACK_BODY_LIMIT = 64 * 1024;
export const REPLICATE_CALLBACK_BODY_LIMIT = 1024 * 1024;

/** The parts of a request an adapter's verify() reads. */
export function callbackRequestOf(request: FastifyRequest): Omit<CallbackRequest, 'now'> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const query: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
    query[name] = typeof value === 'string' ? value : undefined;
  }
  return {
    headers,
    query,
    rawBody: typeof request.body === 'string' ? request.body : '',
  };
}
