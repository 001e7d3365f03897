import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';

/** Epoch milliseconds with sub-millisecond precision, comparable across processes. */
export const nowMs = () => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One connection per client: long-polls and event streams hold theirs. */
export const clientAgent = new Agent({
  connections: 4096,
  pipelining: 1,
  keepAliveTimeout: 60_000,
  headersTimeout: 120_000,
  bodyTimeout: 0,
  connectTimeout: 30_000,
});

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** A child process (genway, the baseline server, the upstream) answering requests over IPC. */
export interface Child {
  port: number;
  /** What the child announced when it was ready (its port and anything else). */
  info: Record<string, unknown>;
  call<T>(type: string, message?: Record<string, unknown>): Promise<T>;
  rss(): Promise<number>;
  /** CPU time (user + system) the child used so far, in milliseconds. */
  cpu(): Promise<number>;
  kill(): void;
  /**
   * Lets the child end on its own (it exits when its IPC channel closes, which writes a
   * `--cpu-prof` profile); SIGKILL after `graceMs`.
   */
  exit(graceMs?: number): Promise<void>;
}

/** A child entry point, ready to fork: bundled JavaScript, or TypeScript run through tsx. */
export interface ChildEntry {
  file: URL;
  execArgv: string[];
}

/**
 * Bundles a child's entry point (our code only; packages stay imports) with esbuild, which
 * tsx ships, so that children start in about a second and their RSS holds no TypeScript
 * loader. Falls back to running the TypeScript through tsx when esbuild is not there.
 */
export async function prepareChild(file: URL): Promise<ChildEntry> {
  // Under node_modules, so that the bundle's package imports resolve to this project's.
  const outDir = new URL('../node_modules/.cache/genway-bench/', import.meta.url);
  const outFile = new URL(file.pathname.split('/').pop()!.replace(/\.ts$/, '.mjs'), outDir);
  try {
    const esbuild = await import('esbuild');
    // esbuild rewrites an existing bundle in place: a node_modules hard-linked from another
    // checkout would share (and overwrite) that checkout's bundles. A new file each time.
    rmSync(outFile, { force: true });
    mkdirSync(outDir, { recursive: true });
    await esbuild.build({
      entryPoints: [file.pathname],
      outdir: outDir.pathname,
      outExtension: { '.js': '.mjs' },
      // Dynamic imports stay lazy chunks (the S3 client is loaded only for s3://), as in dist/.
      splitting: true,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'error',
    });
    return { file: outFile, execArgv: [] };
  } catch {
    return { file, execArgv: ['--import', 'tsx'] };
  }
}

export async function startChild(entry: ChildEntry, env: Record<string, string>): Promise<Child> {
  const file = entry.file;
  const child: ChildProcess = fork(file, [], {
    execArgv: entry.execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const pending = new Map<number, (result: unknown) => void>();
  let nextId = 0;
  const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file.pathname} did not start`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${file.pathname} exited with ${code}`)));
    child.on('message', (m: { type?: string; id?: number; result?: unknown }) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m as Record<string, unknown>);
      } else if (m.id !== undefined) {
        pending.get(m.id)?.(m.result);
        pending.delete(m.id);
      }
    });
  });
  const call = <T>(type: string, message: Record<string, unknown> = {}) =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve as (r: unknown) => void);
      child.send({ ...message, id, type });
    });
  return {
    port: info.port as number,
    info,
    call,
    rss: () => call<number>('rss'),
    cpu: () => call<number>('cpu'),
    kill: () => {
      child.removeAllListeners('exit');
      child.kill('SIGKILL');
    },
    exit: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.disconnect();
      }),
  };
}

/** Samples the child's RSS every `everyMs` until stopped; resolves with the largest value. */
export function sampleRss(child: Child, everyMs = 250) {
  let max = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      max = Math.max(max, await child.rss());
      await sleep(everyMs);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    max = Math.max(max, await child.rss());
    return max;
  };
}

/**
 * Long-polling client: asks `url` again as soon as each answer arrives; `onAnswer` gets the
 * parsed JSON and the time it arrived.
 */
export async function longPollClient(
  url: string,
  headers: Record<string, string>,
  onAnswer: (body: unknown, at: number) => void,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await request(url, { headers, signal, dispatcher: clientAgent });
      const text = await res.body.text();
      const at = nowMs();
      if (res.statusCode === 200) onAnswer(JSON.parse(text), at);
      else await sleep(100);
    } catch {
      if (signal.aborted) return;
      await sleep(100);
    }
  }
}

/** Event-stream client: `onEvent` gets each event's parsed data and the time it arrived. */
export async function sseClient(
  url: string,
  headers: Record<string, string>,
  onEvent: (data: unknown, at: number) => void,
  signal: AbortSignal,
  onOpen?: () => void,
): Promise<void> {
  try {
    const res = await request(url, {
      headers: { accept: 'text/event-stream', ...headers },
      signal,
      dispatcher: clientAgent,
    });
    onOpen?.();
    let buffer = '';
    for await (const chunk of res.body) {
      const at = nowMs();
      buffer += (chunk as Buffer).toString('utf8');
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('\n');
        if (data) onEvent(JSON.parse(data), at);
      }
    }
  } catch {
    // aborted at the end of the run
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** Deletes the keys a benchmark wrote to the local Redis under `prefix`: how many. */
export async function deleteRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  let deleted = 0;
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 })) {
      if ((keys as string[]).length > 0) deleted += await redis.del(...(keys as string[]));
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
}
