import { startModelslabEmulator } from '../../src/emulators/modelslab/server.js';
import { buildTestApp } from '../helpers/test-app.js';
import { startFaultProxy } from './fault-proxy.js';
import { FAULT_ENV, faultSuite } from './fault-suite.js';

const ML_KEY = 'ml-fault-suite-key-3b8d1f6a9c2e4b7d';

faultSuite('modelslab', async () => {
  const emu = await startModelslabEmulator({ apiKeys: [ML_KEY] });
  const proxy = await startFaultProxy(emu.url);
  const t = await buildTestApp({
    env: FAULT_ENV,
    providers: {
      modelslab: {
        baseUrl: proxy.url,
        credentials: [{ id: 'modelslab-1', secret: ML_KEY }],
        emulated: false,
        loadBalancer: true,
        videoPath: '/api/v1/enterprise/video/text2video',
      },
    },
  });
  return {
    t,
    proxy,
    creates: () => emu.creates,
    reset: () => emu.reset(),
    operation: 'text-to-image',
    body: { model: 'modelslab/sdxl', prompt: 'a red fox in snow' },
    createRule: { method: 'POST', path: /\/text2img$/ },
    pollRule: { method: 'POST', path: /\/fetch(\/|$)/ },
    outputRule: { method: 'GET', path: /^\/media\// },
    scriptPolled: () => emu.scriptNext({ processing: 1, eta: 0 }),
    expireOutput: (url) => emu.expireOutput(proxy.toTarget(url)),
    secrets: [ML_KEY],
    async close() {
      await t.close();
      await proxy.close();
      await emu.close();
    },
  };
});
