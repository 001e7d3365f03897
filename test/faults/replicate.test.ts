import { startReplicateEmulator } from '../../src/emulators/replicate/server.js';
import { buildTestApp } from '../helpers/test-app.js';
import { startFaultProxy } from './fault-proxy.js';
import { FAULT_ENV, faultSuite } from './fault-suite.js';

const R8_TOKEN = 'r8_fault_suite_token_7e2a9c4b1d6f3e8a';
const SD_REF =
  'stability-ai/stable-diffusion:ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';

faultSuite('replicate', async () => {
  // timeScale 0.01: `Prefer: wait=5` holds the create 50 ms, then the prediction is polled.
  const emu = await startReplicateEmulator({ prefix: '/v1', tokens: [R8_TOKEN], timeScale: 0.01 });
  const proxy = await startFaultProxy(emu.url);
  const t = await buildTestApp({
    env: FAULT_ENV,
    providers: {
      replicate: {
        baseUrl: `${proxy.url}/v1`,
        credentials: [{ id: 'replicate-1', secret: R8_TOKEN }],
        emulated: true,
        models: [],
      },
    },
  });
  return {
    t,
    proxy,
    creates: () => emu.creates,
    reset: () => emu.reset(),
    operation: 'text-to-image',
    body: { model: `replicate/${SD_REF}`, prompt: 'a lighthouse in fog' },
    createRule: { method: 'POST', path: /^\/v1\/predictions$/ },
    pollRule: { method: 'GET', path: /^\/v1\/predictions\/[^/?]+$/ },
    outputRule: { method: 'GET', path: /^\/media\// },
    // Unscripted predictions start `starting` and need polls.
    scriptPolled: () => undefined,
    secrets: [R8_TOKEN],
    // The Replicate client accepts answers up to 32 MB (providers/replicate/index.ts): 64 MB must be cut off.
    hugeBytes: 64 * 1024 * 1024,
    async close() {
      await t.close();
      await proxy.close();
      await emu.close();
    },
  };
});
