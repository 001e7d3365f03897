import { writeHeapSnapshot } from 'node:v8';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { serveParent } from './ipc.js';

// genway in its own process (so that its RSS is its own), configured by the environment the
// benchmark passes. `memory`: process.memoryUsage() after a full GC when started with
// --expose-gc; `snapshot`: a heap snapshot written to `path` (memory investigations).
const app = await buildApp(loadConfig(process.env));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
serveParent(
  { port: typeof address === 'object' && address ? address.port : 0 },
  {
    memory: () => {
      (globalThis as { gc?: () => void }).gc?.();
      return process.memoryUsage();
    },
    snapshot: (m) => writeHeapSnapshot(String(m.path)),
  },
);
