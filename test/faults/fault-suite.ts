import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KEY_A, KEY_B, auth, findSecrets, type TestApp } from '../helpers/test-app.js';
import type { Fault, FaultProxy, FaultRule } from './fault-proxy.js';

/**
 * The fault cases every provider runs through its emulator, behind a fault proxy: on the
 * create and on a poll, 5xx, 429 + Retry-After, a reset before and after the request reached
 * the emulator, an answer that never finishes, malformed JSON and a 40 MB body; then an
 * output link that died. Each ends in a task state with a clear code, never two upstream
 * creates for one request, an app that still answers, and no secret anywhere.
 */

/** Headers and body timeout of upstream calls in the fault suites (UPSTREAM_TIMEOUT_MS). */
export const FAULT_UPSTREAM_TIMEOUT_MS = 700;

export const FAULT_ENV = { UPSTREAM_TIMEOUT_MS: String(FAULT_UPSTREAM_TIMEOUT_MS) };

type Json = Record<string, unknown>;

export interface FaultTarget {
  t: TestApp;
  proxy: FaultProxy;
  /** Creates the emulator accepted since the last reset. */
  creates(): number;
  /** Forgets the emulator's jobs, scripts and counters. */
  reset(): void;
  operation: string;
  body: Json;
  createRule: FaultRule;
  pollRule: FaultRule;
  /** Output files as served by the emulator (through the proxy). */
  outputRule: FaultRule;
  /** Makes the next create answer "still working", so the task is polled at least once. */
  scriptPolled(): void;
  /** Kills an output link with the emulator's own hook, where it has one. */
  expireOutput?(proxiedUrl: string): void;
  /** Every upstream secret the emulator knows. */
  secrets: string[];
  /** Size of the `huge` body; default 40 MB (more for a client allowed larger answers). */
  hugeBytes?: number;
  close(): Promise<void>;
}

export interface FaultRow {
  provider: string;
  case: string;
  phase: 'create' | 'poll' | 'output';
  final: string;
  creates: number;
}

interface FaultCase {
  name: string;
  fault: Fault;
  /** Create phase: HTTP status and code of the create answer, and the task's final code. */
  create: { http: number; code: string; creates: number };
}

const FIVE_XX: Fault = {
  kind: 'status',
  status: 503,
  body: '{"error":"Service Unavailable","detail":"injected"}',
};
const RATE_LIMITED: Fault = {
  kind: 'status',
  status: 429,
  headers: { 'retry-after': '1' },
  body: '{"error":"Too Many Requests","detail":"injected"}',
};

/**
 * Expected create outcomes (architecture §5): a create that may have reached the upstream is
 * never re-sent and fails `upstream_outcome_unknown`; a 429 is a refusal (no job).
 */
export const FAULT_CASES: FaultCase[] = [
  {
    name: '5xx',
    fault: FIVE_XX,
    create: { http: 502, code: 'upstream_outcome_unknown', creates: 0 },
  },
  {
    name: '429 + Retry-After',
    fault: RATE_LIMITED,
    create: { http: 429, code: 'upstream_rate_limited', creates: 0 },
  },
  {
    name: 'reset before send',
    fault: { kind: 'reset-before' },
    create: { http: 502, code: 'upstream_outcome_unknown', creates: 0 },
  },
  {
    name: 'reset after send',
    fault: { kind: 'reset-after' },
    create: { http: 502, code: 'upstream_outcome_unknown', creates: 1 },
  },
  {
    name: 'never-finishing answer',
    fault: { kind: 'hang' },
    create: { http: 502, code: 'upstream_outcome_unknown', creates: 1 },
  },
  {
    name: 'malformed JSON (200)',
    fault: { kind: 'malformed' },
    create: { http: 502, code: 'upstream_outcome_unknown', creates: 1 },
  },
  {
    name: 'huge body',
    fault: { kind: 'huge' },
    create: { http: 502, code: 'upstream_outcome_unknown', creates: 1 },
  },
];

const DEFAULT_HUGE_BYTES = 40 * 1024 * 1024;

const TERMINAL = ['succeeded', 'failed', 'canceled'];

export function faultSuite(provider: string, setup: () => Promise<FaultTarget>): void {
  const rows: FaultRow[] = [];
  const captured: string[] = [];
  let target: FaultTarget;

  const inject = async (opts: InjectOptions): Promise<LightMyRequestResponse> => {
    const res = await target.t.app.inject({ ...opts, headers: { ...auth(), ...opts.headers } });
    captured.push(JSON.stringify(res.headers), res.body);
    return res;
  };
  const getTask = async (id: string) =>
    (await inject({ method: 'GET', url: `/v1/tasks/${id}` })).json<Json>();
  const waitDone = async (id: string, timeoutMs = 15_000): Promise<Json> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = (await inject({ method: 'GET', url: `/v1/tasks/${id}?wait=2` })).json<Json>();
      if (TERMINAL.includes(task.status as string)) return task;
      if (Date.now() > deadline) throw new Error(`task ${id} still ${String(task.status)}`);
    }
  };
  const taskIds = async (): Promise<string[]> => {
    const res = await inject({ method: 'GET', url: '/v1/tasks?limit=100' });
    return (res.json<{ data: Json[] }>().data ?? []).map((t) => t.id as string);
  };
  const create = () =>
    inject({ method: 'POST', url: `/v1/${target.operation}`, payload: target.body });
  const hugeBytes = () => target.hugeBytes ?? DEFAULT_HUGE_BYTES;
  const faultFor = (c: FaultCase): Fault =>
    c.fault.kind === 'huge' ? { kind: 'huge', bytes: hugeBytes() } : c.fault;
  const codeOf = (task: Json) => (task.error as Json | null)?.code as string | undefined;

  /** The app still answers, and nothing it said or logged so far holds a secret. */
  const assertHealthyAndClean = async () => {
    const health = await target.t.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBeLessThan(500);
    const secrets = [...new Set([...target.t.secrets, ...target.secrets, KEY_A, KEY_B])];
    expect(findSecrets([...captured, ...target.t.logs], secrets)).toEqual([]);
  };

  describe(`${provider}: faults between genway and the upstream`, () => {
    beforeAll(async () => {
      target = await setup();
    });
    beforeEach(() => {
      target.proxy.reset();
      target.reset();
    });
    afterEach(async () => {
      await assertHealthyAndClean();
    });
    afterAll(async () => {
      await target?.close();
      printTable(rows);
    });

    describe('on the create', () => {
      for (const c of FAULT_CASES) {
        it(`${c.name}: ${c.create.code} (HTTP ${c.create.http}), ${c.create.creates} upstream create(s), never re-sent`, async () => {
          const before = new Set(await taskIds());
          target.proxy.arm(target.createRule, faultFor(c));
          const res = await create();
          expect(target.proxy.pending()).toBe(0);
          const problem = res.json<Json>();
          const created = (await taskIds()).filter((id) => !before.has(id));
          expect(created).toHaveLength(1);
          const task = await getTask(created[0]!);
          // Give a wrongly re-sent create time to show up before counting.
          await new Promise((r) => setTimeout(r, 100));
          const creates = target.creates();
          rows.push({
            provider,
            case: c.name,
            phase: 'create',
            final: `HTTP ${res.statusCode} ${String(problem.code ?? '')}; task ${String(task.status)}/${codeOf(task) ?? '-'}`,
            creates,
          });
          expect(res.statusCode, res.body).toBe(c.create.http);
          expect(problem.code).toBe(c.create.code);
          if (c.create.http === 429) expect(res.headers['retry-after']).toBeDefined();
          expect(task.status).toBe('failed');
          expect(codeOf(task)).toBe(c.create.code);
          expect(creates).toBe(c.create.creates);
          // The create went through the proxy exactly once.
          const createCalls = target.proxy.calls.filter(
            (call) =>
              (!target.createRule.method || call.method === target.createRule.method) &&
              target.createRule.path.test(call.path),
          );
          expect(createCalls).toHaveLength(1);
          if (c.fault.kind === 'huge')
            expectCutOff(rows.at(-1)!, target.proxy.hugeBytesSent, hugeBytes());
        });
      }
    });

    describe('on a poll', () => {
      for (const c of FAULT_CASES) {
        it(`${c.name}: retried, the task still succeeds with one upstream create`, async () => {
          target.scriptPolled();
          target.proxy.arm(target.pollRule, faultFor(c));
          const res = await create();
          expect(res.statusCode, res.body).toBe(201);
          const id = res.json<Json>().id as string;
          const task = await waitDone(id);
          const creates = target.creates();
          rows.push({
            provider,
            case: c.name,
            phase: 'poll',
            final: `task ${String(task.status)}/${codeOf(task) ?? '-'}`,
            creates,
          });
          expect(target.proxy.pending(), 'the poll fault was injected').toBe(0);
          expect(task.status, JSON.stringify(task.error)).toBe('succeeded');
          expect(creates).toBe(1);
          const polls = target.proxy.calls.filter(
            (call) =>
              (!target.pollRule.method || call.method === target.pollRule.method) &&
              target.pollRule.path.test(call.path),
          );
          expect(polls.length).toBeGreaterThanOrEqual(2);
          if (c.name === '429 + Retry-After') {
            // Polls honour Retry-After (1 s here): the next poll waits for it, and not much more.
            const faulted = polls.findIndex((call) => call.fault === 'status');
            const gap = polls[faulted + 1]!.at - polls[faulted]!.at;
            expect(gap).toBeGreaterThanOrEqual(950);
            expect(gap).toBeLessThan(5000);
          }
          if (c.fault.kind === 'huge')
            expectCutOff(rows.at(-1)!, target.proxy.hugeBytesSent, hugeBytes());
        });
      }
    });

    it('an output link that 404s upstream: GET /v1/tasks/{id}/outputs/0 answers 410 output_expired', async () => {
      const res = await create();
      expect(res.statusCode, res.body).toBe(201);
      const id = res.json<Json>().id as string;
      const task = await waitDone(id);
      expect(task.status).toBe('succeeded');
      const url = ((task.outputs as Json[])[0]?.url ?? '') as string;
      expect(url.startsWith(target.proxy.url), url).toBe(true);
      if (target.expireOutput) {
        target.expireOutput(url);
      } else {
        target.proxy.arm(target.outputRule, {
          kind: 'status',
          status: 404,
          contentType: 'text/plain',
          body: 'Not Found',
        });
      }
      const out = await inject({ method: 'GET', url: `/v1/tasks/${id}/outputs/0` });
      const problem = out.json<Json>();
      rows.push({
        provider,
        case: 'output URL 404',
        phase: 'output',
        final: `HTTP ${out.statusCode} ${String(problem.code ?? '')}`,
        creates: target.creates(),
      });
      expect(out.statusCode, out.body).toBe(410);
      expect(problem.code).toBe('output_expired');
      expect(target.creates()).toBe(1);
      // The task itself stays succeeded: an expired link is no failure of the job.
      expect((await getTask(id)).status).toBe('succeeded');
    });
  });
}

/** A huge body was cut off by genway (maxBodyBytes) before the proxy could send it all. */
function expectCutOff(row: FaultRow, sent: number, total: number): void {
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  row.final += ` (cut off after ${mb(sent)} of ${mb(total)} MB)`;
  expect(sent).toBeLessThan(total);
}

export function printTable(rows: FaultRow[]): void {
  if (rows.length === 0) return;
  const lines = [
    '| provider | case | phase | final state / code | upstream creates |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.provider} | ${r.case} | ${r.phase} | ${r.final} | ${r.creates} |`),
  ];
  console.log(`\nFault suite (${rows[0]?.provider}):\n${lines.join('\n')}\n`);
}
