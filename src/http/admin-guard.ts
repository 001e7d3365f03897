import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * The check of every route that takes the operator's ADMIN_TOKEN: 404 without ADMIN_TOKEN
 * configured (the route does not exist then), 401 unless `Authorization: Bearer <ADMIN_TOKEN>`
 * (compared in constant time).
 */
export function adminGuard(token: string | undefined) {
  const expected = token === undefined ? undefined : digest(token);
  return async (request: FastifyRequest) => {
    if (!expected) {
      throw new GatewayError(
        'not_found',
        `No route ${request.method} ${request.url.split('?')[0]}`,
      );
    }
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
      throw new GatewayError('unauthorized', 'Send Authorization: Bearer <ADMIN_TOKEN>');
    }
  };
}
