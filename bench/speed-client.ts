import http from 'node:http';
import autocannon from 'autocannon';
import { percentile } from './lib.js';

/**
 * The speed benchmark's clients: a minimal sequential one (node:http, one keep-alive
 * connection, nothing parsed) for latency, autocannon for throughput, and the requests genway
 * is measured with.
 */

export interface HttpTarget {
  port: number;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** The status every answer must have. */
  status: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function once(t: HttpTarget): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const headers = t.body
      ? { ...t.headers, 'content-length': String(Buffer.byteLength(t.body)) }
      : t.headers;
    const req = http.request(
      { host: '127.0.0.1', port: t.port, method: t.method, path: t.path, headers, agent },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => {
          if (res.statusCode === t.status) resolve(performance.now() - started);
          else reject(new Error(`${t.method} ${t.path}: ${res.statusCode}`));
        });
      },
    );
    req.on('error', reject);
    req.end(t.body);
  });
}

/**
 * `n` requests one after another on one connection (fewer if `maxMs` runs out first): their
 * latencies (ms), sorted.
 */
export async function sequentialLatencies(
  t: HttpTarget,
  n: number,
  maxMs = Infinity,
): Promise<number[]> {
  const out: number[] = [];
  const until = performance.now() + maxMs;
  for (let i = 0; i < n && performance.now() < until; i++) out.push(await once(t));
  return out.sort((a, b) => a - b);
}

export const summarise = (sorted: number[]) => ({
  p50: percentile(sorted, 50),
  p99: percentile(sorted, 99),
});

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** autocannon with `connections` for `seconds`: 2xx answers per second. */
export async function throughput(
  t: HttpTarget,
  seconds: number,
  connections = 50,
  onProblem: (text: string) => void = () => undefined,
): Promise<number> {
  const result = await autocannon({
    url: `http://127.0.0.1:${t.port}${t.path}`,
    connections,
    duration: seconds,
    method: t.method,
    headers: t.headers,
    ...(t.body ? { body: t.body } : {}),
  });
  if (result.non2xx > 0 || result.errors > 0) {
    onProblem(`${t.method} ${t.path}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return result['2xx'] / result.duration;
}

export const GATEWAY_KEY = 'gw_bench_key_0123456789abcdef';
export const MODELSLAB_KEY = 'ml-bench-key-0123456789abcdef';
export const PROMPT = 'a red fox in snow';

/**
 * genway's environment for the benchmark: one tenant key, ModelsLab on the stub. No media
 * storage unless `store` sets MEDIA_STORE_URL: a create then does what the bare proxy does (one
 * upstream call); with media storage it also downloads each output and writes it to disk
 * before announcing the success, measured in a row of its own.
 */
export function genwayEnv(upstreamPort: number, store: Record<string, string>) {
  return {
    MEDIA_STORE_URL: 'none',
    // As the container image runs it (see Dockerfile): glibc arenas per thread hold on to peaks.
    MALLOC_ARENA_MAX: '2',
    GATEWAY_API_KEYS: GATEWAY_KEY,
    LOG_LEVEL: 'warn',
    MODELSLAB_BASE_URL: `http://127.0.0.1:${upstreamPort}`,
    MODELSLAB_API_KEYS: MODELSLAB_KEY,
    MODELSLAB_MAX_IN_FLIGHT: '100000',
    // Thousands of requests per second from one key: no per-tenant request limit.
    RATE_LIMIT_MAX: '0',
    ...store,
  };
}

export const createBody = JSON.stringify({ model: 'modelslab/sdxl', prompt: PROMPT });
const gatewayAuth = { authorization: `Bearer ${GATEWAY_KEY}` };

/** The same create through a bare proxy's `path` (bare-proxy.ts adds the upstream key). */
export const proxyCreate = (port: number, path = '/proxy'): HttpTarget => ({
  port,
  method: 'POST',
  path,
  headers: { 'content-type': 'application/json' },
  body: createBody,
  status: 201,
});

/** `POST /v1/text-to-image`, with `Prefer: wait=10` unless told otherwise. */
export const genwayCreate = (port: number, prefer = true): HttpTarget => ({
  port,
  method: 'POST',
  path: '/v1/text-to-image',
  headers: {
    'content-type': 'application/json',
    ...gatewayAuth,
    ...(prefer ? { prefer: 'wait=10' } : {}),
  },
  body: createBody,
  status: 201,
});

export const genwayRead = (port: number, id: string): HttpTarget => ({
  port,
  method: 'GET',
  path: `/v1/tasks/${id}`,
  headers: gatewayAuth,
  status: 200,
});

/** Creates one task and checks that the upstream's immediate answer finished it. */
export async function finishedTask(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/text-to-image`, {
    method: 'POST',
    headers: genwayCreate(port).headers,
    body: createBody,
  });
  const task = (await res.json()) as { id: string; status: string };
  if (res.status !== 201 || task.status !== 'succeeded') {
    throw new Error(`create with Prefer: wait: ${res.status} ${JSON.stringify(task)}`);
  }
  return task.id;
}

/** The body of a read, as genway answers it (the task-sized hello-world sends the same). */
export async function answerText(t: HttpTarget): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${t.port}${t.path}`, { headers: t.headers });
  const text = await res.text();
  if (res.status !== t.status) throw new Error(`${t.method} ${t.path}: ${res.status} ${text}`);
  return text;
}
