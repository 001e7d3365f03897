import type { Server } from 'node:http';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../config/config.js';
import { NORMALIZED_SURFACE } from '../http/problem.js';
import type { GatewayApp } from '../http/route-deps.js';
import { metricsRoute } from '../http/routes/ops/metrics.js';
import { registerSurfaceErrors } from '../http/surface.js';
import type { GatewayMetrics } from '../observability/metrics.js';

/**
 * `GET /metrics` on a listener of its own (METRICS_PORT), e.g. bound where only the scraper
 * reaches it: started once the app listens, closed with it. Serves nothing else.
 */
export function serveMetricsApart(
  app: GatewayApp,
  config: Config & { metricsPort: number },
  metrics: GatewayMetrics,
  logger: FastifyBaseLogger,
): void {
  const server: GatewayApp = Fastify({
    loggerInstance: logger,
  }).withTypeProvider<ZodTypeProvider>();
  server.setValidatorCompiler(validatorCompiler);
  server.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerSurfaceErrors(server, NORMALIZED_SURFACE, { notFound: true });
  metricsRoute(server, { metrics, token: config.metricsToken });
  app.decorate('metricsServer', server.server);
  app.addHook('onListen', async () => {
    await server.listen({ port: config.metricsPort, host: config.host });
  });
  app.addHook('onClose', async () => {
    await server.close();
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The METRICS_PORT listener's server, when metrics are served apart. */
    metricsServer?: Server;
  }
}
