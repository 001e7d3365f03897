import { startModelslabEmulator } from '../src/emulators/modelslab/server.js';
import { serveParent } from './ipc.js';

/**
 * The speed benchmark's upstream, in its own process: the ModelsLab emulator, whose creates
 * answer `success` with the output at once when nothing is scripted (an immediate answer).
 * `reset` drops the calls it recorded, so that its memory stays flat between rounds.
 */
const key = process.env.BENCH_MODELSLAB_KEY ?? 'ml-bench-key-0123456789abcdef';
const emu = await startModelslabEmulator({ apiKeys: [key] });

serveParent(
  { port: Number(new URL(emu.url).port) },
  {
    reset: () => {
      emu.reset();
      return true;
    },
  },
);
