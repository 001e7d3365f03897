import { startPixverseEmulator } from '../../src/emulators/pixverse/server.js';
import { buildTestApp } from '../helpers/test-app.js';
import { startFaultProxy } from './fault-proxy.js';
import { FAULT_ENV, faultSuite } from './fault-suite.js';

const PX_KEY = 'px-fault-suite-key-9a4c2e7b1f5d3a8c';

faultSuite('pixverse', async () => {
  // Default: a video answers status 5 (generating) twice before it is done, so it is polled.
  const emu = await startPixverseEmulator({ apiKeys: [PX_KEY] });
  const proxy = await startFaultProxy(emu.url);
  const prefix = emu.baseUrl.slice(emu.url.length);
  const t = await buildTestApp({
    env: FAULT_ENV,
    providers: {
      pixverse: {
        baseUrl: `${proxy.url}${prefix}`,
        credentials: [{ id: 'pixverse-1', secret: PX_KEY }],
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
    body: { model: 'pixverse/v5', prompt: 'a cat surfing a wave at sunset' },
    createRule: { method: 'POST', path: /\/video\/text\/generate$/ },
    pollRule: { method: 'GET', path: /\/video\/result\/[^/?]+$/ },
    outputRule: { method: 'GET', path: /^\/media\// },
    scriptPolled: () => undefined,
    secrets: [PX_KEY],
    async close() {
      await t.close();
      await proxy.close();
      await emu.close();
    },
  };
});
