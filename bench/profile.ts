import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { renderProfile } from './cpuprofile-top.js';
import { deleteRedisKeys, prepareChild, startChild, type Child } from './lib.js';
import {
  MODELSLAB_KEY,
  finishedTask,
  genwayCreate,
  genwayEnv,
  genwayRead,
  sequentialLatencies,
  throughput,
  type HttpTarget,
} from './speed-client.js';

/**
 * `npm run bench -- profile`: genway under `node --cpu-prof`, once under the create load and
 * once under the finished-task read load (autocannon c=50, BENCH_PROFILE_SECONDS each, default
 * 10), then the top self-time functions of each profile. genway runs from its TypeScript
 * (through tsx) so that frames name src/ files. Profiles are kept in BENCH_PROFILE_DIR (default:
 * a new temporary folder, printed). BENCH_PROFILE_STORE picks the store: `sqlite` (default) or
 * `redis` (127.0.0.1:6379, a random key prefix removed afterwards). BENCH_PROFILE_SEQUENTIAL=1:
 * the load is the latency rows' instead (requests one after another on one keep-alive
 * connection, for BENCH_PROFILE_SECONDS), where a request's own path counts, not batching.
 */
const SECONDS = Number(process.env.BENCH_PROFILE_SECONDS ?? 10);
const SEQUENTIAL = process.env.BENCH_PROFILE_SEQUENTIAL === '1';
const STORE = process.env.BENCH_PROFILE_STORE ?? 'sqlite';
if (STORE !== 'sqlite' && STORE !== 'redis') {
  process.stderr.write(`bench profile: BENCH_PROFILE_STORE must be sqlite or redis\n`);
  process.exit(2);
}
const REDIS_PREFIX = `genway-profile-${randomBytes(6).toString('hex')}:`;
const dir = process.env.BENCH_PROFILE_DIR ?? mkdtempSync(join(os.tmpdir(), 'genway-profile-'));
const children = new Set<Child>();
const watchdog = setTimeout(
  () => {
    process.stderr.write('bench profile: watchdog fired, giving up\n');
    for (const c of children) c.kill();
    process.exit(1);
  },
  (SECONDS * 2 + 180) * 1000,
);
watchdog.unref();

async function profiled(
  name: string,
  upstream: Child,
  target: (port: number) => Promise<HttpTarget>,
): Promise<{ file: string; skipMs: number }> {
  const out = join(dir, name);
  const forkedAt = Date.now();
  const gw = await startChild(
    {
      file: new URL('./gateway-child.ts', import.meta.url),
      execArgv: ['--import', 'tsx', '--cpu-prof', '--cpu-prof-dir', out],
    },
    genwayEnv(
      upstream.port,
      STORE === 'redis'
        ? { STORE_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: REDIS_PREFIX }
        : { STORE_URL: `sqlite:${join(dir, `${name}.db`)}` },
    ),
  );
  children.add(gw);
  const t = await target(gw.port);
  await sequentialLatencies(t, 300); // warm-up, inside the profile too (a small share)
  // The summary leaves out everything before the load (start-up, module loading, warm-up).
  const skipMs = Date.now() - forkedAt;
  const rate = SEQUENTIAL
    ? (await sequentialLatencies(t, Infinity, SECONDS * 1000)).length / SECONDS
    : await throughput(t, SECONDS);
  await gw.exit();
  children.delete(gw);
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's
  // loader thread writes one too).
  const file = readdirSync(out)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()[0];
  if (!file) throw new Error(`no profile written in ${out}`);
  const load = SEQUENTIAL ? 'sequential, one connection' : 'autocannon c=50';
  process.stdout.write(
    `\n== ${name} (${STORE}): ${rate.toFixed(0)} req/s under the profiler (${load})\n`,
  );
  return { file: join(out, file), skipMs };
}

async function main(): Promise<void> {
  const upstream = await startChild(
    await prepareChild(new URL('./modelslab-child.ts', import.meta.url)),
    { BENCH_MODELSLAB_KEY: MODELSLAB_KEY },
  );
  children.add(upstream);
  try {
    for (const [name, target] of [
      ['create', async (port: number) => genwayCreate(port)],
      ['read', async (port: number) => genwayRead(port, await finishedTask(port))],
    ] as const) {
      const { file, skipMs } = await profiled(name, upstream, target);
      process.stdout.write(`${renderProfile(file, 25, skipMs).join('\n')}\n`);
      for (const f of readdirSync(dir)) if (f.startsWith(`${name}.db`)) rmSync(join(dir, f));
    }
  } finally {
    upstream.kill();
    if (STORE === 'redis') await deleteRedisKeys(REDIS_PREFIX);
  }
  process.stdout.write(`\nprofiles kept in ${dir}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench profile failed: ${String((err as Error)?.stack ?? err)}\n`);
    for (const c of children) c.kill();
    process.exit(1);
  },
);
