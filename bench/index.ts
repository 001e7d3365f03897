import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench [-- speed|fanout|profile ...]`: runs the benchmark groups named (default:
 * speed, then fanout), each in its own process with its own watchdog.
 *   speed   create and read latency/throughput beside a bare proxy and hello-world (speed.ts)
 *   fanout  long-poll and SSE waiters on running tasks (run.ts)
 *   profile --cpu-prof of genway under the create and the read load (profile.ts)
 *   phases  where a create's time goes in the server, per store and beside the proxy (phases.ts)
 */
const GROUPS: Record<string, string> = {
  speed: './speed.ts',
  fanout: './run.ts',
  profile: './profile.ts',
  phases: './phases.ts',
};
const asked = process.argv.slice(2);
const unknown = asked.filter((g) => !(g in GROUPS));
if (unknown.length > 0) {
  process.stderr.write(
    `bench: unknown group ${unknown.join(', ')} (known: ${Object.keys(GROUPS).join(', ')})\n`,
  );
  process.exit(2);
}
let failed = false;
for (const group of asked.length > 0 ? asked : ['speed', 'fanout']) {
  const file = fileURLToPath(new URL(GROUPS[group]!, import.meta.url));
  const run = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  if (run.status !== 0) {
    process.stderr.write(`bench: ${group} ended with ${run.status ?? run.signal}\n`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
