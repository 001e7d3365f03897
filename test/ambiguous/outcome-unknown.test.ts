import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelslabSettings } from '../../src/providers/modelslab/index.js';
import { KEY_A, auth, buildTestApp, findSecrets, type TestApp } from '../helpers/test-app.js';
import { startFakeUpstream, type FakeMode, type FakeUpstream } from './fake-upstream.js';

/**
 * A create that may have reached the upstream without an answer coming back is never sent
 * again: the task fails with upstream_outcome_unknown (ModelsLab has no way to find a job
 * whose id never came back), and the fake upstream sees exactly one create.
 */

const ML_KEYS = ['ml-ambiguous-key-one-1f2e3d4c5b6a7980', 'ml-ambiguous-key-two-0a9b8c7d6e5f4a3b'];
const CREATE_PATH = '/api/v1/enterprise/text2img';
const image = { model: 'modelslab/sdxl', prompt: 'a harbour in fog' };

let fake: FakeUpstream | undefined;
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  await fake?.close();
  t = fake = undefined;
});

async function start(mode: FakeMode, credentials = 1) {
  fake = await startFakeUpstream(mode);
  const modelslab: ModelslabSettings = {
    baseUrl: fake.url,
    credentials: ML_KEYS.slice(0, credentials).map((secret, i) => ({
      id: `modelslab-${i + 1}`,
      secret,
    })),
    emulated: false,
    // Spread over the credentials: a second one exists to fail over to, if that were allowed.
    loadBalancer: false,
    videoPath: '/api/v1/enterprise/video/text2video',
  };
  t = await buildTestApp({ providers: { modelslab }, env: { UPSTREAM_TIMEOUT_MS: '300' } });
  return { fake, t };
}

const create = (app: TestApp, headers: Record<string, string> = {}) =>
  app.app.inject({
    method: 'POST',
    url: '/v1/text-to-image',
    headers: { ...auth(KEY_A), ...headers },
    payload: image,
  });

async function onlyTask(app: TestApp) {
  const res = await app.app.inject({ method: 'GET', url: '/v1/tasks', headers: auth(KEY_A) });
  const tasks = res.json<{ data: Record<string, unknown>[] }>().data;
  expect(tasks).toHaveLength(1);
  return tasks[0]!;
}

describe.each([
  ['the connection is reset after the request was read', { kind: 'reset' }],
  ['the upstream never answers (client timeout after sending)', { kind: 'hang' }],
  ['a 5xx without a definitive body', { kind: 'http500' }],
] as const)('a create where %s', (_name, mode) => {
  it('fails the task with upstream_outcome_unknown and never re-sends it', async () => {
    const { fake, t } = await start(mode, 2);
    const res = await create(t);
    expect(res.statusCode).toBe(502);
    const problem = res.json<Record<string, unknown>>();
    expect(problem).toMatchObject({ code: 'upstream_outcome_unknown', status: 502 });
    const task = await onlyTask(t);
    expect(problem.detail).toContain(String(task.id));
    expect(task).toMatchObject({
      status: 'failed',
      error: { code: 'upstream_outcome_unknown' },
      completed_at: expect.any(String),
    });
    // Time for a re-send (to this or the second credential) to show up: none comes.
    await sleep(400);
    expect(fake.callsTo(CREATE_PATH)).toHaveLength(1);
    expect(fake.calls).toHaveLength(1);
    expect(findSecrets([res.body, ...t.logs], ML_KEYS)).toEqual([]);
  });
});

describe('ambiguous creates and Idempotency-Key', () => {
  it('a repeat with the key gets the same 502 again and still sends nothing', async () => {
    const { fake, t } = await start({ kind: 'reset' });
    const first = await create(t, { 'idempotency-key': 'lost-answer' });
    const again = await create(t, { 'idempotency-key': 'lost-answer' });
    expect(first.statusCode).toBe(502);
    expect(again.statusCode).toBe(502);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toMatchObject({
      code: 'upstream_outcome_unknown',
      detail: first.json<Record<string, unknown>>().detail,
    });
    await sleep(200);
    expect(fake.callsTo(CREATE_PATH)).toHaveLength(1);
  });
});

describe('a definitive answer keeps its own code', () => {
  it('a refusal of the input is upstream_rejected, not outcome unknown', async () => {
    const { fake, t } = await start({
      kind: 'json',
      status: 200,
      body: { status: 'error', message: 'width must be a multiple of 8' },
    });
    const res = await create(t);
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ code: 'upstream_rejected' });
    expect((await onlyTask(t)).error).toMatchObject({ code: 'upstream_rejected' });
    expect(fake.callsTo(CREATE_PATH)).toHaveLength(1);
  });
});
