import { buildApp } from '../app.js';
import { loadConfig } from '../config/load.js';
import { MemoryTaskStore } from '../store/memory-store.js';

/**
 * The OpenAPI document as the app serves it at /openapi.json, built from a neutral
 * configuration so the committed file does not depend on the machine that wrote it.
 */
export async function buildOpenApiDocument(): Promise<unknown> {
  const config = loadConfig({ STORE_URL: 'memory:', LOG_LEVEL: 'silent' });
  const app = await buildApp(config, { store: new MemoryTaskStore(), poller: false });
  await app.ready();
  const doc = app.swagger();
  await app.close();
  return doc;
}

export const serializeOpenApi = (doc: unknown) => `${JSON.stringify(doc, null, 2)}\n`;
