import { startHaiperEmulator } from '../src/emulators/haiper/server.js';
import { serveParent } from './ipc.js';

/**
 * The upstream, in its own process: the Haiper emulator with every task long-running, its
 * progress rising on every poll (the k-th poll of a task answers k/(IN_PROGRESS+1)). The
 * emulator stamps every call it receives (`calls[].at`), so the k-th poll of a task is the
 * moment its k-th change left the upstream. The parent asks for the polls of some tasks
 * (`dump`) and clears everything between scenarios (`reset`).
 */
const IN_PROGRESS = 1_000_000;
const accessKey = process.env.BENCH_ACCESS_KEY ?? 'haiper-bench-access-key-0123456789';
const emu = await startHaiperEmulator({
  accessKeys: [accessKey],
  pollsPending: 0,
  pollsInProgress: IN_PROGRESS,
  port: Number(process.env.BENCH_UPSTREAM_PORT ?? 0),
});
const pollPath = /\/video\/tasks\/([A-Za-z0-9]+)$/;

serveParent(
  { port: Number(new URL(emu.url).port), endpointPath: emu.endpointPath },
  {
    reset: () => {
      emu.reset();
      return true;
    },
    /** Poll times of each task, and the progress each poll answered → when. */
    dump: (m) => {
      const wanted = new Set(m.ids as string[]);
      const polls = new Map<string, number[]>([...wanted].map((id) => [id, []]));
      for (const call of emu.calls) {
        const id = call.method === 'GET' ? pollPath.exec(call.path)?.[1] : undefined;
        if (id && wanted.has(id)) polls.get(id)!.push(call.at);
      }
      // The same expression as the emulator's: exactly the number genway reports.
      const progressOf = (k: number) => Math.min(k, IN_PROGRESS) / (IN_PROGRESS + 1);
      const changes = new Map(
        [...polls].map(([id, times]) => [
          id,
          new Map(times.map((at, i) => [progressOf(i + 1), at])),
        ]),
      );
      return { polls, changes };
    },
  },
);
