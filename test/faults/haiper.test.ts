import { startHaiperEmulator } from '../../src/emulators/haiper/server.js';
import { buildTestApp } from '../helpers/test-app.js';
import { startFaultProxy } from './fault-proxy.js';
import { FAULT_ENV, faultSuite } from './fault-suite.js';

const ACCESS_KEY = 'haiper-fault-suite-key-5d1b8e3a7c2f9b4e';

faultSuite('haiper', async () => {
  // Default: PENDING once, IN_PROGRESS twice, then SUCCESS: every task is polled.
  const emu = await startHaiperEmulator({ endpointPath: 'FaultSuite01', accessKeys: [ACCESS_KEY] });
  const proxy = await startFaultProxy(emu.url);
  const t = await buildTestApp({
    env: FAULT_ENV,
    providers: {
      haiper: {
        baseUrl: `${proxy.url}${emu.basePath.slice(emu.url.length)}`,
        endpointPath: emu.endpointPath,
        credentials: [{ id: 'haiper-1', secret: ACCESS_KEY }],
        emulated: false,
      },
    },
  });
  return {
    t,
    proxy,
    creates: () => emu.creates,
    reset: () => emu.reset(),
    operation: 'text-to-video',
    body: { model: 'haiper', prompt: 'a paper boat on a river' },
    createRule: { method: 'POST', path: /\/video\/generate$/ },
    pollRule: { method: 'GET', path: /\/video\/tasks\/[^/?]+$/ },
    outputRule: { method: 'GET', path: /^\/media\// },
    scriptPolled: () => undefined,
    secrets: [ACCESS_KEY],
    async close() {
      await t.close();
      await proxy.close();
      await emu.close();
    },
  };
});
