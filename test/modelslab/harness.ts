import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { ModelslabSettings } from '../../src/providers/modelslab/index.js';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
  type ModelslabEmulatorOptions,
} from '../../src/emulators/modelslab/server.js';
import {
  KEY_A,
  KEY_B,
  auth,
  buildTestApp,
  findSecrets,
  waitForTerminal,
} from '../helpers/test-app.js';
import type { TestApp, TestAppOptions } from '../helpers/test-app.js';

/** Upstream keys: long and distinctive, so a leak anywhere is found by a plain text search. */
export const ML_KEYS = [
  'ml-upstream-key-one-7f3a9c1e5b2d4a6f',
  'ml-upstream-key-two-8e4b0d2f6c3a5b7e',
  'ml-upstream-key-three-9d5c1e3a7b4c6d8f',
] as const;
/** A key the emulator does not know (the provider "refuses our key"). */
export const ML_BAD_KEY = 'ml-upstream-key-revoked-0a1b2c3d4e5f6a7b';

export const API = '/api/v1/enterprise';
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
export const isMp4 = (body: Buffer) => body.subarray(4, 8).toString('ascii') === 'ftyp';

export type Json = Record<string, unknown>;

export interface SuiteOptions {
  emulator?: ModelslabEmulatorOptions;
  /** Overrides of the ModelsLab settings (baseUrl defaults to the emulator). */
  settings?: Partial<ModelslabSettings>;
  /** Secrets of the configured credentials; default: the first of ML_KEYS only. */
  credentialSecrets?: readonly string[];
  app?: Omit<TestAppOptions, 'providers'>;
  /** Configure ModelsLab through environment variables (MODELSLAB_*) instead of `providers`. */
  viaEnv?: boolean;
}

export interface Suite {
  emu: ModelslabEmulator;
  t: TestApp;
  app: FastifyInstance;
  /** Every response body and header set the suite received, for the secret scan. */
  captured: string[];
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>;
  /** Create a task (POST /v1/<operation>) as tenant A unless told otherwise. */
  create(
    operation: string,
    body: Json,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
  getTask(id: string, key?: string): Promise<Json>;
  waitDone(id: string, key?: string, timeoutMs?: number): Promise<Json>;
  /** Configured secrets plus every upstream key the emulator knows. */
  secrets(): string[];
  /** Asserts no secret occurs in anything captured (responses and logs); returns the hits. */
  leaks(): string[];
  close(): Promise<void>;
}

/** Everything a response exposes, as text. */
export function responseText(res: LightMyRequestResponse): string[] {
  return [JSON.stringify(res.headers), res.body];
}

/**
 * The real app (buildTestApp) wired to a ModelsLab emulator on a loopback port, with every
 * response captured for the secret scan.
 */
export async function startSuite(opts: SuiteOptions = {}): Promise<Suite> {
  const secrets = opts.credentialSecrets ?? [ML_KEYS[0]];
  const emu = await startModelslabEmulator({ apiKeys: [...ML_KEYS], ...opts.emulator });
  const settings: ModelslabSettings = {
    baseUrl: emu.url,
    credentials: secrets.map((secret, i) => ({ id: `modelslab-${i + 1}`, secret })),
    emulated: false,
    loadBalancer: true,
    videoPath: '/api/v1/enterprise/video/text2video',
    ...opts.settings,
  };
  const t = opts.viaEnv
    ? await buildTestApp({
        ...opts.app,
        env: {
          MODELSLAB_BASE_URL: settings.baseUrl,
          MODELSLAB_API_KEYS: secrets.join(','),
          MODELSLAB_LOAD_BALANCER: String(settings.loadBalancer),
          MODELSLAB_VIDEO_PATH: settings.videoPath,
          ...opts.app?.env,
        },
      })
    : await buildTestApp({ ...opts.app, providers: { modelslab: settings } });
  return wrap(emu, t, async () => {
    await t.close();
    await emu.close();
  });
}

/** Wraps an already built app and emulator (restart tests build several apps). */
export function wrap(emu: ModelslabEmulator, t: TestApp, close: () => Promise<void>): Suite {
  const captured: string[] = [];
  const inject = async (opts: InjectOptions) => {
    const res = await t.app.inject(opts);
    captured.push(...responseText(res));
    return res;
  };
  // waitForTerminal only calls `inject`: hand it a view of the app whose inject captures.
  const capturing = new Proxy(t.app, {
    get: (target, prop) => (prop === 'inject' ? inject : Reflect.get(target, prop, target)),
  });
  const suite: Suite = {
    emu,
    t,
    app: t.app,
    captured,
    inject,
    create: (operation, body, headers = {}) =>
      inject({
        method: 'POST',
        url: `/v1/${operation}`,
        headers: { ...auth(), ...headers },
        payload: body,
      }),
    async getTask(id, key = KEY_A) {
      const res = await inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: auth(key) });
      return res.json<Json>();
    },
    waitDone: (id, key = KEY_A, timeoutMs = 10_000) =>
      waitForTerminal(capturing, id, key, timeoutMs),
    secrets: () => [...new Set([...t.secrets, ...ML_KEYS, ML_BAD_KEY, KEY_A, KEY_B])],
    leaks: () => findSecrets([...captured, ...t.logs], suite.secrets()),
    close,
  };
  return suite;
}

/** Calls the emulator saw whose path starts with `prefix`. */
export function callsTo(emu: ModelslabEmulator, prefix: string) {
  return emu.calls.filter((c) => c.path.startsWith(prefix));
}

/** Fetch calls of one upstream job, whatever form they took (path id or request_id). */
export function fetchesOf(emu: ModelslabEmulator, upstreamId: string) {
  return emu.calls.filter((c) => {
    if (!c.path.includes('/fetch')) return false;
    const body = c.body as Json | undefined;
    return c.path.endsWith(`/fetch/${upstreamId}`) || String(body?.request_id) === upstreamId;
  });
}

export interface ProxyCall {
  method: string;
  path: string;
  body: string;
  /** Status the client got. */
  status: number;
  at: number;
}

export interface FaultProxy {
  url: string;
  calls: ProxyCall[];
  /** The next `times` requests whose path matches answer `status` with `body` instead. */
  failNext(match: (path: string) => boolean, status: number, times?: number, body?: string): void;
  close(): Promise<void>;
}

/**
 * A tiny node:http proxy in front of an emulator, to inject faults the emulator has no script
 * for (5xx on a fetch). With `rewrite`, the target's origin in answers becomes the proxy's, so
 * fetch_result URLs point at the configured base; without it they point elsewhere.
 */
export async function startFaultProxy(target: string, rewrite = true): Promise<FaultProxy> {
  const calls: ProxyCall[] = [];
  const faults: { match: (p: string) => boolean; status: number; left: number; body: string }[] =
    [];
  const targetUrl = new URL(target);
  let self = '';
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = req.url ?? '/';
      const call: ProxyCall = { method: req.method ?? '', path, body, status: 0, at: Date.now() };
      calls.push(call);
      const fault = faults.find((f) => f.left > 0 && f.match(path));
      if (fault) {
        fault.left--;
        call.status = fault.status;
        res.writeHead(fault.status, { 'content-type': 'application/json' }).end(fault.body);
        return;
      }
      const upstream = httpRequest(
        {
          host: targetUrl.hostname,
          port: targetUrl.port,
          path,
          method: req.method,
          headers: { ...req.headers, host: targetUrl.host },
        },
        (up) => {
          void (async () => {
            let text = await readBody(up);
            if (rewrite) text = text.split(target).join(self);
            call.status = up.statusCode ?? 502;
            res
              .writeHead(call.status, {
                'content-type': up.headers['content-type'] ?? 'application/json',
              })
              .end(text);
          })();
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: self,
    calls,
    failNext(
      match,
      status,
      times = 1,
      body = '{"status":"error","message":"Internal Server Error"}',
    ) {
      faults.push({ match, status, left: times, body });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface FakeCall {
  method: string;
  path: string;
  body: Json;
}

/** A minimal scripted ModelsLab stand-in for answers the emulator never gives. */
export async function startFakeUpstream(
  answer: (call: FakeCall, base: string) => { status?: number; body: unknown },
): Promise<{ url: string; calls: FakeCall[]; close(): Promise<void> }> {
  const calls: FakeCall[] = [];
  let base = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Json = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Json;
      } catch {
        body = {};
      }
      const call = { method: req.method ?? '', path: req.url ?? '/', body };
      calls.push(call);
      const out = answer(call, base);
      res
        .writeHead(out.status ?? 200, { 'content-type': 'application/json' })
        .end(JSON.stringify(out.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function download(url: string) {
  const res = await fetch(url);
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body: Buffer.from(await res.arrayBuffer()),
  };
}

/** Asserts a problem+json answer and returns its body. */
export function problemOf(res: LightMyRequestResponse): Json {
  const type = String(res.headers['content-type'] ?? '');
  if (!type.startsWith('application/problem+json')) {
    throw new Error(
      `expected application/problem+json, got ${type} (${res.statusCode}): ${res.body}`,
    );
  }
  return res.json<Json>();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Keeps the suites (and other resources) of a test file, for files whose tests run
 * concurrently: each test starts its own; `closeAll` (afterAll) closes them and returns every
 * secret leak found in what they captured.
 */
export function tracker() {
  const suites: Suite[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  return {
    async start(opts?: SuiteOptions): Promise<Suite> {
      const s = await startSuite(opts);
      suites.push(s);
      return s;
    },
    track(s: Suite): Suite {
      suites.push(s);
      return s;
    },
    defer(cleanup: () => Promise<void>): void {
      cleanups.push(cleanup);
    },
    async closeAll(): Promise<string[]> {
      const leaks = suites.flatMap((s) => s.leaks());
      for (const s of suites.splice(0)) await s.close();
      for (const c of cleanups.splice(0).reverse()) await c();
      return leaks;
    },
  };
}
