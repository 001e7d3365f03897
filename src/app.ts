// First: the order of the OpenAPI components (see contracts/index.ts).
import './contracts/index.js';
import type { FastifyInstance, FastifyTypeProviderDefault } from 'fastify';
import type { DestinationStream } from 'pino';
import { registerRoutes } from './app/routes.js';
import { createRuntime, type RuntimeDeps } from './app/runtime.js';
import { createShell } from './app/shell.js';
import type { Config } from './config/config.js';
import type { TaskService } from './domain/task-service.js';
import { SURFACES } from './http/surfaces.js';
import { GatewayMetrics } from './observability/metrics.js';
import { PROVIDERS } from './providers/registry.js';

export interface AppDeps extends RuntimeDeps {
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: DestinationStream;
}

/**
 * Wires the app: the Fastify shell, the runtime (store, pools, services, loops) and the
 * routes. The loops start when the app is ready and stop when it closes. Does not listen:
 * server.ts does.
 */
export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  // One registry per app (never prom-client's global one): GET /metrics.
  const metrics = new GatewayMetrics();
  const registry = deps.registry ?? PROVIDERS;
  const app = createShell(config, {
    logStream: deps.logStream,
    metrics,
    surfaces: SURFACES,
    registry,
  });
  const runtime = await createRuntime(config, { ...deps, registry }, { metrics, logger: app.log });
  app.addHook('onReady', async () => runtime.start());
  app.decorate('tasks', runtime.tasks);
  app.addHook('onClose', () => runtime.close());
  await registerRoutes(app, config, runtime, metrics);
  // The routes are typed by their zod schemas; callers see a plain Fastify instance.
  return app.withTypeProvider<FastifyTypeProviderDefault>();
}

declare module 'fastify' {
  interface FastifyInstance {
    tasks: TaskService;
  }
}
