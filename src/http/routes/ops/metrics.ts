import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ProblemSchema } from '../../../contracts/common.js';
import { GatewayError } from '../../../errors/gateway-error.js';
import type { GatewayApp } from '../../route-deps.js';

/** What the route needs: the app's metrics (rendered as text) and the optional token. */
export interface MetricsRouteDeps {
  metrics: { contentType: string; render(): Promise<string> };
  /** METRICS_TOKEN; undefined: the endpoint is open. */
  token?: string;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * GET /metrics: every `genway_*` series in the Prometheus text format, for a scraper. Not
 * under /v1 and never a gateway key: when METRICS_TOKEN is set, that token as a Bearer.
 */
export function metricsRoute(app: GatewayApp, deps: MetricsRouteDeps): void {
  const expected = deps.token === undefined ? undefined : digest(deps.token);
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description:
          'HTTP requests and latencies by route, upstream calls by provider, operation and outcome, tasks by provider and status, polls, webhook deliveries and backlog, credential state, and process metrics, in the Prometheus text format (version 0.0.4). When the operator sets `METRICS_TOKEN`, send it as `Authorization: Bearer <METRICS_TOKEN>` (a gateway key is not accepted); otherwise the endpoint is open.',
        security: [],
        response: {
          200: z.string().meta({
            description: 'Prometheus text exposition',
            content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } },
          }),
          401: ProblemSchema.describe(
            'METRICS_TOKEN is set and the request did not send it as a Bearer token',
          ),
        },
      },
    },
    async (request, reply) => {
      if (expected) {
        const header = request.headers.authorization;
        const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
        if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
          throw new GatewayError('unauthorized', 'Send Authorization: Bearer <METRICS_TOKEN>');
        }
      }
      const text = await deps.metrics.render();
      return reply.type(deps.metrics.contentType).header('cache-control', 'no-store').send(text);
    },
  );
}
