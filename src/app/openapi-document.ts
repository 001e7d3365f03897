// First: the order of the OpenAPI components (see contracts/index.ts).
import '../contracts/index.js';
import { loadConfig } from '../config/load.js';
import { SURFACES } from '../http/surfaces.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { PROVIDERS } from '../providers/registry.js';
import { MemoryTaskStore } from '../store/memory-store.js';
import { registerRoutes } from './routes.js';
import { createRuntime } from './runtime.js';
import { createShell } from './shell.js';

/**
 * The OpenAPI document as the app serves it at /openapi.json: the shell and the routes,
 * registered on a runtime that is never started, from a neutral configuration so the
 * committed file does not depend on the machine that wrote it.
 */
export async function buildOpenApiDocument(): Promise<unknown> {
  const config = loadConfig({ STORE_URL: 'memory:', LOG_LEVEL: 'silent' });
  const metrics = new GatewayMetrics();
  const app = createShell(config, { metrics, surfaces: SURFACES, registry: PROVIDERS });
  const runtime = await createRuntime(
    config,
    { store: new MemoryTaskStore(), poller: false, registry: PROVIDERS },
    { metrics, logger: app.log },
  );
  try {
    await registerRoutes(app, config, runtime, metrics);
    await app.ready();
    return app.swagger();
  } finally {
    await app.close();
    await runtime.close();
  }
}

export const serializeOpenApi = (doc: unknown) => `${JSON.stringify(doc, null, 2)}\n`;
