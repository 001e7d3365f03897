import { Agent, request } from 'undici';
import type { HaiperSettings } from '../../src/providers/haiper/index.js';
import {
  startHaiperEmulator,
  type HaiperEmulator,
  type HaiperEmulatorOptions,
} from '../../src/emulators/haiper/server.js';
import type { RecordedCall } from '../../src/emulators/shared/types.js';
import { KEY_A, auth, buildTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The real app (buildTestApp: memory store, 20–200 ms polling) with the haiper provider
 * pointed at the Cloudsway emulator on loopback, optionally listening on a loopback port for
 * real streaming clients (SSE).
 */

export const ACCESS_KEY = 'haiper-engine-access-key-0123456789';
export type Json = Record<string, unknown>;

export interface EngineOptions {
  emulator?: HaiperEmulatorOptions;
  env?: Record<string, string>;
  /** Poll budget of the one credential (polls per second). */
  pollsPerSecond?: number;
  /** Listen on 127.0.0.1 (for SSE over a real socket). */
  listen?: boolean;
}

export interface Engine {
  emu: HaiperEmulator;
  t: TestApp;
  /** `http://127.0.0.1:<port>` when listening. */
  url: string;
  /** Creates a text-to-video task as tenant A; returns the public task. */
  create(key?: string): Promise<Json>;
  get(id: string, query?: string, key?: string): Promise<{ status: number; body: Json }>;
  /** Upstream status polls of one task (by its upstream id) the emulator saw. */
  polls(upstreamId: string): RecordedCall[];
  close(): Promise<void>;
}

export async function startEngine(opts: EngineOptions = {}): Promise<Engine> {
  const emu = await startHaiperEmulator({ accessKeys: [ACCESS_KEY], ...opts.emulator });
  const settings: HaiperSettings = {
    baseUrl: emu.basePath,
    endpointPath: emu.endpointPath,
    credentials: [
      {
        id: 'haiper-1',
        secret: ACCESS_KEY,
        ...(opts.pollsPerSecond !== undefined ? { pollsPerSecond: opts.pollsPerSecond } : {}),
      },
    ],
    emulated: false,
  };
  // No per-tenant request limit: hundreds of long-poll readers share one key here.
  const env = { RATE_LIMIT_MAX: '0', ...opts.env };
  const t = await buildTestApp({ env, providers: { haiper: settings } });
  let url = '';
  if (opts.listen) url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const engine: Engine = {
    emu,
    t,
    url,
    async create(key = KEY_A) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/text-to-video',
        headers: auth(key),
        payload: { model: 'haiper', prompt: 'a lighthouse in a storm' },
      });
      if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`);
      return res.json<Json>();
    },
    async get(id, query = '', key = KEY_A) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/tasks/${id}${query}`,
        headers: auth(key),
      });
      return { status: res.statusCode, body: res.json<Json>() };
    },
    polls: (upstreamId) =>
      emu.calls.filter((c) => c.method === 'GET' && c.path.endsWith(`/video/tasks/${upstreamId}`)),
    async close() {
      await t.close();
      await emu.close();
    },
  };
  return engine;
}

export const upstreamIdOf = (task: Json) => (task.upstream as Json).id as string;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export { until } from '../helpers/until.js';

/** One item of an event stream, with when the client parsed it. */
export type SseItem =
  | { kind: 'event'; id: string | undefined; event: string | undefined; data: string; at: number }
  | { kind: 'comment'; text: string; at: number }
  | { kind: 'retry'; ms: number; at: number };

export interface SseConnection {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  items: SseItem[];
  events(): (SseItem & { kind: 'event' })[];
  /** Resolves when the server ends the stream (or the client aborts). */
  ended: Promise<void>;
  /** Resolves once `n` events have arrived. */
  waitForEvents(n: number, timeoutMs?: number): Promise<void>;
  abort(): void;
}

const sseAgent = new Agent({ connections: 512, keepAliveTimeout: 1000 });

/** Opens `GET url` as an event stream and parses it as it arrives (a minimal EventSource). */
export async function openSse(
  url: string,
  headers: Record<string, string>,
): Promise<SseConnection> {
  const controller = new AbortController();
  const res = await request(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
    dispatcher: sseAgent,
    bodyTimeout: 0,
  });
  const items: SseItem[] = [];
  const listeners = new Set<() => void>();
  const ended = (async () => {
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += (chunk as Buffer).toString('utf8');
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          items.push(...parseBlock(block));
          for (const l of listeners) l();
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  })();
  ended.catch(() => undefined);
  const events = () => items.filter((i): i is SseItem & { kind: 'event' } => i.kind === 'event');
  return {
    status: res.statusCode,
    headers: res.headers,
    items,
    events,
    ended,
    waitForEvents(n, timeoutMs = 10_000) {
      if (events().length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`only ${events().length} of ${n} events after ${timeoutMs} ms`));
        }, timeoutMs);
        const check = () => {
          if (events().length < n) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
      });
    },
    abort: () => controller.abort(),
  };
}

function parseBlock(block: string): SseItem[] {
  const at = Date.now();
  const out: SseItem[] = [];
  let id: string | undefined;
  let event: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      out.push({ kind: 'comment', text: line.slice(1).trim(), at });
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'retry') out.push({ kind: 'retry', ms: Number(value), at });
  }
  if (data.length > 0) out.push({ kind: 'event', id, event, data: data.join('\n'), at });
  return out;
}
