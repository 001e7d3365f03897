import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeAdapter, buildFakeApp, type FakeApp } from '../helpers/fake-provider.js';
import { auth } from '../helpers/test-app.js';
import { until } from '../helpers/until.js';

type Json = Record<string, unknown>;

let fake: FakeApp | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const body = { model: 'fake/m1', prompt: 'a slow upstream' };

/** An adapter whose creates hang until `open()` is called. */
function gatedAdapter() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const adapter = new FakeAdapter({
    onStart: async () => {
      await gate;
      return { upstreamId: 'up_slow', upstreamStatus: 'starting', status: 'running' };
    },
  });
  return { adapter, open };
}

const post = (app: FakeApp, key: string) =>
  app.app.inject({
    method: 'POST',
    url: '/v1/text-to-video',
    headers: { ...auth(), 'idempotency-key': key },
    payload: body,
  });

describe('a repeat while the first request with the key is still running', () => {
  it('waits for the first and answers the same task (one upstream call)', async () => {
    const { adapter, open } = gatedAdapter();
    fake = await buildFakeApp(adapter);
    const first = post(fake, 'slow-1');
    await until(() => adapter.starts.length === 1);
    const second = post(fake, 'slow-1');
    // The second is held while the first's upstream call is under way.
    await sleep(300);
    open();
    const [a, b] = await Promise.all([first, second]);
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(b.json<Json>().id).toBe(a.json<Json>().id);
    expect(b.json<Json>()).toMatchObject({ status: 'running', upstream: { id: 'up_slow' } });
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(adapter.starts).toHaveLength(1);
  });

  it('past IDEMPOTENCY_WAIT_MS: 409 idempotency_key_in_progress with Retry-After; later the same task', async () => {
    const { adapter, open } = gatedAdapter();
    fake = await buildFakeApp(adapter, { env: { IDEMPOTENCY_WAIT_MS: '150' } });
    const first = post(fake, 'slow-2');
    await until(() => adapter.starts.length === 1);
    const started = Date.now();
    const busy = await post(fake, 'slow-2');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(busy.statusCode).toBe(409);
    expect(busy.headers['retry-after']).toBe('2');
    expect(busy.json<Json>()).toMatchObject({ code: 'idempotency_key_in_progress', status: 409 });
    // A different body is refused at once, in progress or not.
    const other = await fake.app.inject({
      method: 'POST',
      url: '/v1/text-to-video',
      headers: { ...auth(), 'idempotency-key': 'slow-2' },
      payload: { ...body, prompt: 'something else' },
    });
    expect(other.statusCode).toBe(422);
    open();
    const original = await first;
    const later = await post(fake, 'slow-2');
    expect(later.statusCode).toBe(201);
    expect(later.json<Json>().id).toBe(original.json<Json>().id);
    expect(adapter.starts).toHaveLength(1);
  });

  it('IDEMPOTENCY_WAIT_MS=0 answers 409 at once', async () => {
    const { adapter, open } = gatedAdapter();
    fake = await buildFakeApp(adapter, { env: { IDEMPOTENCY_WAIT_MS: '0' } });
    const first = post(fake, 'slow-3');
    await until(() => adapter.starts.length === 1);
    const busy = await post(fake, 'slow-3');
    expect(busy.statusCode).toBe(409);
    open();
    await first;
    expect(adapter.starts).toHaveLength(1);
  });
});
