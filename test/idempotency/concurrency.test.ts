import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import { KEY_A, auth } from '../helpers/test-app.js';
import { API, callsTo, startSuite, type Json, type Suite } from '../modelslab/harness.js';

const N = 50;
const body = { model: 'modelslab/sdxl', prompt: 'a lighthouse at dusk', width: 512, height: 512 };

let suite: Suite | undefined;
let dir: string | undefined;
afterEach(async () => {
  await suite?.close();
  suite = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** N identical creates with one Idempotency-Key, all in flight at the same moment. */
async function fireAtOnce(s: Suite, key: string) {
  return Promise.all(
    Array.from({ length: N }, () =>
      s.inject({
        method: 'POST',
        url: '/v1/text-to-image',
        headers: { ...auth(KEY_A), 'idempotency-key': key },
        payload: body,
      }),
    ),
  );
}

describe.each([
  ['memory store', false],
  ['sqlite store', true],
] as const)(`%s: ${N} identical creates at once with one Idempotency-Key`, (_name, sqlite) => {
  it(`start exactly one upstream job, and all ${N} answers name the same task`, async () => {
    if (sqlite) dir = mkdtempSync(join(tmpdir(), 'genway-idem-'));
    suite = await startSuite({
      app: dir ? { store: new SqliteTaskStore(join(dir, 'genway.db')) } : {},
    });
    // A queued job (answered `processing`, fetched later): the first create takes a moment.
    suite.emu.scriptNext({ processing: 2 });

    const answers = await fireAtOnce(suite, 'order-42-thumbnail');

    expect(answers.map((r) => r.statusCode)).toEqual(Array(N).fill(201));
    const ids = new Set(answers.map((r) => r.json<Json>().id));
    expect(ids.size).toBe(1);
    expect(suite.emu.creates).toBe(1);
    expect(callsTo(suite.emu, `${API}/text2img`)).toHaveLength(1);
    // One answer is the original; the other 49 say they are replays.
    const replayed = answers.filter((r) => r.headers['idempotent-replayed'] === 'true');
    expect(replayed).toHaveLength(N - 1);
    const [id] = [...ids] as string[];
    for (const r of answers) expect(r.headers.location).toBe(`/v1/tasks/${id}`);
    // One task exists for the tenant, and it finishes normally.
    const list = await suite.inject({ method: 'GET', url: '/v1/tasks', headers: auth(KEY_A) });
    expect(list.json<{ data: Json[] }>().data.map((t) => t.id)).toEqual([id]);
    expect(await suite.waitDone(id!)).toMatchObject({ status: 'succeeded' });
    expect(suite.emu.creates).toBe(1);
    expect(suite.leaks()).toEqual([]);
  });
});
