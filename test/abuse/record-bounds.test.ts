import { monotonicFactory } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantIdForKey } from '../../src/config/load.js';
import { taskFixture } from '../../src/domain/task-record.fixture.js';
import { MAX_TASK_OUTPUTS } from '../../src/domain/task-record.js';
import { MAX_FIELD_ERRORS } from '../../src/errors/gateway-error.js';
import { B64_MAX_TOTAL_BYTES } from '../../src/http/openai/b64-outputs.js';
import { MAX_BATCHES } from '../../src/http/replicate/list-predictions.js';
import { KEY_A, KEY_B } from '../helpers/test-app.js';
import {
  MODEL,
  expectProblem,
  finished,
  otherTenantServed,
  rssMb,
  startBoundsSuite,
  type BoundsSuite,
  type Json,
} from './bounds-harness.js';

/**
 * Issue 12 item 4 ("Unbounded task records") over HTTP against the real app, the Replicate
 * emulator on loopback answering as a model the caller controls would: thousands of outputs,
 * huge files, a tenant with thousands of rows the Replicate list must skip, and huge inputs.
 * Each time the record stays bounded, the process answers with bounded memory, and the other
 * tenant is served.
 */

let g: BoundsSuite;
const MB = 1024 * 1024;

beforeAll(async () => {
  g = await startBoundsSuite();
});

afterAll(async () => {
  await g?.close();
});

describe('a model answering 1,000 output URLs', () => {
  it('leaves 64 on the task, says how many it left out, and the other tenant is served', async () => {
    const rssBefore = rssMb();
    g.s.emu.scriptNext({ outputs: 1000 });
    const created = await g.call('POST', '/v1/text-to-image', KEY_A, {
      model: MODEL,
      prompt: 'a thousand images',
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await otherTenantServed(g);
    const task = await finished(g, id, KEY_A);
    expect(task.status).toBe('succeeded');
    expect(task.outputs).toHaveLength(MAX_TASK_OUTPUTS);
    expect(task.outputs_omitted).toBe(1000 - MAX_TASK_OUTPUTS);

    // The stored record is bounded too: no list of 1,000 in its outputs or adapter state.
    const stored = await g.store.get(id);
    expect(stored?.outputs).toHaveLength(MAX_TASK_OUTPUTS);
    expect(JSON.stringify(stored).length).toBeLessThan(64 * 1024);
    expect(JSON.stringify(stored?.upstreamState)).not.toContain('early_outputs');

    // The Replicate surface shows the same 64.
    const prediction = await g.call('GET', `/replicate/v1/predictions/${stored!.id}`, KEY_A);
    expect(prediction.status).toBe(200);
    expect(prediction.body.output).toHaveLength(MAX_TASK_OUTPUTS);
    expect((await g.call('GET', '/healthz', KEY_A)).status).toBe(200);
    expect(rssMb() - rssBefore).toBeLessThan(300);
  }, 60_000);
});

describe('GET /replicate/v1/predictions over a tenant with thousands of other rows', () => {
  it('reads at most the cap per request and answers with a next cursor', async () => {
    const cap = MAX_BATCHES * 200;
    // A Replicate prediction of tenant A, then 1,500 newer tasks of another provider that the
    // Replicate list reads past (seeded through the store the app uses: creating them over
    // HTTP would only be slower).
    const old = await g.call('POST', '/v1/text-to-image', KEY_A, { model: MODEL, prompt: 'old' });
    expect(old.status).toBe(201);
    await finished(g, old.body.id as string, KEY_A);
    const newId = monotonicFactory();
    const tenant = tenantIdForKey(KEY_A);
    const seeded: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const id = `task_${newId()}`;
      seeded.push(id);
      await g.store.insert(
        taskFixture({ id, tenant, provider: 'modelslab', status: 'succeeded', nextPollAt: null }),
      );
    }
    const newestFirst = seeded.slice().reverse();

    const first = await g.call('GET', '/replicate/v1/predictions', KEY_A);
    expect(first.status).toBe(200);
    expect(first.ms).toBeLessThan(5000);
    expect(first.body.results).toEqual([]);
    // The page stopped after `cap` rows: `next` resumes right after the last one read.
    const next = new URL(first.body.next as string);
    expect(next.searchParams.get('cursor')).toBe(newestFirst[cap - 1]);

    const second = await g.call('GET', `${next.pathname}${next.search}`, KEY_A);
    expect(second.status).toBe(200);
    const ids = (second.body.results as Json[]).map((p) => p.id);
    const oldPrediction = await g.call('GET', `/replicate/v1/predictions/${old.body.id}`, KEY_A);
    expect(ids).toContain(oldPrediction.body.id);
    expect(second.body.next).toBeNull();

    // Tenant B's list is its own and unaffected.
    await otherTenantServed(g);
    const listB = await g.call('GET', '/replicate/v1/predictions', KEY_B);
    expect(listB.status).toBe(200);
    expect((listB.body.results as Json[]).length).toBeGreaterThan(0);
    expect(listB.ms).toBeLessThan(5000);
  }, 60_000);
});

describe('response_format b64_json over outputs larger than the cap in all', () => {
  it('answers the bounded error, the process alive with bounded memory', async () => {
    const rssBefore = rssMb();
    // Three files of 20 MB: each under the per-file cap, 60 MB together.
    g.s.emu.scriptNext({ outputs: 3, bytes: 20 * MB });
    const res = await g.call('POST', '/openai/v1/images/generations', KEY_A, {
      model: MODEL,
      prompt: 'three large images',
      response_format: 'b64_json',
    });
    expect(res.status).toBe(502);
    const error = res.body.error as Json;
    expect(error.code).toBe('upstream_bad_response');
    expect(error.message).toMatch(/exceed 50 MB in all/);
    expect(error.message).toMatch(/response_format=url/);
    expect(B64_MAX_TOTAL_BYTES).toBe(50 * MB);

    // Under the cap in all: answered, and a flood of them is encoded a few at a time.
    const flood = Array.from({ length: 6 }, () => {
      g.s.emu.scriptNext({ outputs: 2, bytes: 5 * MB });
      return g.call('POST', '/openai/v1/images/generations', KEY_A, {
        model: MODEL,
        prompt: 'two images',
        response_format: 'b64_json',
      });
    });
    await otherTenantServed(g);
    for (const answer of await Promise.all(flood)) {
      expect(answer.status).toBe(200);
      const data = answer.body.data as { b64_json: string }[];
      expect(data).toHaveLength(2);
      expect(Buffer.from(data[0]!.b64_json, 'base64').length).toBe(5 * MB);
    }
    expect((await g.call('GET', '/healthz', KEY_A)).status).toBe(200);
    expect(rssMb() - rssBefore).toBeLessThan(600);
  }, 120_000);
});

describe('huge nested inputs', () => {
  it('are refused with a problem body, or kept only as a note', async () => {
    const deep = `${'{"a":'.repeat(5000)}"x"${'}'.repeat(5000)}`;
    const tooDeep = await g.call(
      'POST',
      '/v1/text-to-image',
      KEY_A,
      `{"model":"${MODEL}","prompt":"deep","provider_options":{"deep":${deep}}}`,
    );
    expectProblem(tooDeep, 400, 'invalid_request');
    expect(tooDeep.body.detail).toMatch(/nested more than/);

    // Wide: 2 MB of provider_options, over the 1 MB body limit of /v1.
    const wide = Object.fromEntries(
      Array.from({ length: 40_000 }, (_, i) => [`k${i}`, 'v'.repeat(40)]),
    );
    const tooWide = await g.call('POST', '/v1/text-to-image', KEY_A, {
      model: MODEL,
      prompt: 'wide',
      provider_options: wide,
    });
    expectProblem(tooWide, 413, 'payload_too_large');

    // Nested values Replicate does not take from /v1: 400 naming the field, and a bounded list.
    const nested = await g.call('POST', '/v1/text-to-image', KEY_A, {
      model: MODEL,
      prompt: 'nested',
      provider_options: Object.fromEntries(
        Array.from({ length: 5000 }, (_, i) => [`k${i}`, { list: [i] }]),
      ),
    });
    expectProblem(nested, 400, 'invalid_request');
    expect(JSON.stringify(nested.body).length).toBeLessThan(64 * 1024);
    expect(nested.body.errors).toHaveLength(MAX_FIELD_ERRORS);
    expect(nested.body.detail).toMatch(/; and 4950 more$/);

    // The raw Replicate surface takes any input (up to 16 MB): kept on the task only as a note.
    const big = { list: Array.from({ length: 100_000 }, (_, i) => ({ i })) };
    const raw = await g.call(
      'POST',
      `/replicate/v1/models/black-forest-labs/flux-schnell/predictions`,
      KEY_A,
      {
        input: { prompt: 'raw', big },
      },
    );
    expect([201, 202]).toContain(raw.status);
    const tasks = await g.store.list(tenantIdForKey(KEY_A), { limit: 1 });
    const record = await g.store.get(tasks[0]!.id);
    expect(JSON.stringify(record).length).toBeLessThan(64 * 1024);
    expect(JSON.stringify(record)).toContain('"prompt":"raw"');
    expect(JSON.stringify(record)).toMatch(/not kept by genway/);
    await otherTenantServed(g);
  }, 60_000);
});
