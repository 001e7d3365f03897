import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { FakeAdapter, buildFakeApp, type FakeApp } from '../helpers/fake-provider.js';
import { KEY_A, KEY_B, auth } from '../helpers/test-app.js';

type Json = Record<string, unknown>;

let fake: FakeApp | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const body = { model: 'fake/m1', prompt: 'a paper boat' };

function create(
  app: FakeApp,
  payload: Json,
  key: string | undefined,
  gatewayKey = KEY_A,
  operation = 'text-to-image',
) {
  return app.app.inject({
    method: 'POST',
    url: `/v1/${operation}`,
    headers: { ...auth(gatewayKey), ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload,
  });
}

describe('Idempotency-Key on POST /v1/<operation>', () => {
  it('same key and body: the original task, marked as a replay, and no second upstream call', async () => {
    const adapter = new FakeAdapter();
    fake = await buildFakeApp(adapter);
    const first = await create(fake, body, 'k-1');
    const again = await create(fake, body, 'k-1');
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json<Json>().id).toBe(first.json<Json>().id);
    expect(again.headers.location).toBe(first.headers.location);
    expect(adapter.starts).toHaveLength(1);
  });

  it('the same body with keys in another order is the same request', async () => {
    const adapter = new FakeAdapter();
    fake = await buildFakeApp(adapter);
    const a = await create(
      fake,
      { prompt: 'x', model: 'fake/m1', metadata: { a: '1', b: '2' } },
      'k',
    );
    const b = await create(
      fake,
      { metadata: { b: '2', a: '1' }, model: 'fake/m1', prompt: 'x' },
      'k',
    );
    expect(b.json<Json>().id).toBe(a.json<Json>().id);
    expect(adapter.starts).toHaveLength(1);
  });

  it('same key, another body: 422 idempotency_key_reused, nothing started', async () => {
    const adapter = new FakeAdapter();
    fake = await buildFakeApp(adapter);
    await create(fake, body, 'k-2');
    const other = await create(fake, { ...body, prompt: 'a paper plane' }, 'k-2');
    expect(other.statusCode).toBe(422);
    expect(other.json<Json>()).toMatchObject({ code: 'idempotency_key_reused', status: 422 });
    // Another operation with the same key and fields is another request too.
    const video = await create(fake, body, 'k-2', KEY_A, 'text-to-video');
    expect(video.json<Json>()).toMatchObject({ code: 'idempotency_key_reused' });
    expect(adapter.starts).toHaveLength(1);
  });

  it('without a key, two identical creates are two tasks', async () => {
    const adapter = new FakeAdapter();
    fake = await buildFakeApp(adapter);
    const a = await create(fake, body, undefined);
    const b = await create(fake, body, undefined);
    expect(a.json<Json>().id).not.toBe(b.json<Json>().id);
    expect(adapter.starts).toHaveLength(2);
  });

  it('keys are per tenant: another gateway key with the same key string gets its own task', async () => {
    const adapter = new FakeAdapter();
    fake = await buildFakeApp(adapter);
    const a = await create(fake, body, 'shared-key', KEY_A);
    const b = await create(fake, body, 'shared-key', KEY_B);
    expect(b.statusCode).toBe(201);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.json<Json>().id).not.toBe(a.json<Json>().id);
    // Each tenant's repeat replays its own task; neither sees the other's.
    const a2 = await create(fake, body, 'shared-key', KEY_A);
    const b2 = await create(fake, body, 'shared-key', KEY_B);
    expect(a2.json<Json>().id).toBe(a.json<Json>().id);
    expect(b2.json<Json>().id).toBe(b.json<Json>().id);
    // A different body under B's key is refused for B only.
    const b3 = await create(fake, { ...body, prompt: 'other' }, 'shared-key', KEY_B);
    expect(b3.statusCode).toBe(422);
    expect(adapter.starts).toHaveLength(2);
  });

  it('a key expires after IDEMPOTENCY_TTL_SECONDS: then it starts a new task', async () => {
    const adapter = new FakeAdapter();
    fake = await buildFakeApp(adapter, { env: { IDEMPOTENCY_TTL_SECONDS: '1' } });
    const first = await create(fake, body, 'short-lived');
    expect((await create(fake, body, 'short-lived')).json<Json>().id).toBe(first.json<Json>().id);
    await sleep(1100);
    const later = await create(fake, body, 'short-lived');
    expect(later.statusCode).toBe(201);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
    expect(later.json<Json>().id).not.toBe(first.json<Json>().id);
    // Expired, a key may even come back with another body.
    await sleep(1100);
    const changed = await create(fake, { ...body, prompt: 'new' }, 'short-lived');
    expect(changed.statusCode).toBe(201);
    expect(adapter.starts).toHaveLength(3);
  });

  it('a create refused before any task existed frees the key for a corrected retry', async () => {
    const adapter = new FakeAdapter();
    fake = await buildFakeApp(adapter);
    const wrong = await create(fake, { model: 'nope/x', prompt: 'p' }, 'fix-me');
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json<Json>()).toMatchObject({ code: 'model_not_found' });
    const fixed = await create(fake, body, 'fix-me');
    expect(fixed.statusCode).toBe(201);
    expect(fixed.headers['idempotent-replayed']).toBeUndefined();
    expect(adapter.starts).toHaveLength(1);
  });

  it('a create that failed once its task existed replays that failure and sends nothing again', async () => {
    const adapter = new FakeAdapter({
      onStart: () => {
        throw new GatewayError('upstream_rejected', 'The provider rejected the request: nope');
      },
    });
    fake = await buildFakeApp(adapter);
    const first = await create(fake, body, 'failed-once');
    expect(first.statusCode).toBe(422);
    expect(first.json<Json>()).toMatchObject({ code: 'upstream_rejected' });
    const again = await create(fake, body, 'failed-once');
    expect(again.statusCode).toBe(422);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json<Json>()).toMatchObject({
      code: 'upstream_rejected',
      detail: first.json<Json>().detail,
    });
    expect(adapter.starts).toHaveLength(1);
    // The failed task is there, and only one.
    const list = await fake.app.inject({ method: 'GET', url: '/v1/tasks', headers: auth() });
    expect(list.json<{ data: Json[] }>().data).toMatchObject([
      { status: 'failed', error: { code: 'upstream_rejected' } },
    ]);
  });

  it.each([
    ['empty', ''],
    ['over 255 characters', 'k'.repeat(256)],
    ['a tab', 'a\tb'],
  ])('refuses a key that is %s with 400 naming the header', async (_name, key) => {
    const adapter = new FakeAdapter();
    fake = await buildFakeApp(adapter);
    const res = await create(fake, body, key);
    expect(res.statusCode).toBe(400);
    expect(res.json<Json>()).toMatchObject({
      code: 'invalid_request',
      errors: [{ path: 'headers.idempotency-key' }],
    });
    expect(adapter.starts).toHaveLength(0);
  });

  it('accepts any printable ASCII key up to 255 characters', async () => {
    const adapter = new FakeAdapter();
    fake = await buildFakeApp(adapter);
    const key = ` !"#$%&'()*+,-./09:;<=>?@AZ[\\]^_\`az{|}~`.padEnd(255, 'x');
    const a = await create(fake, body, key);
    const b = await create(fake, body, key);
    expect(a.statusCode).toBe(201);
    expect(b.json<Json>().id).toBe(a.json<Json>().id);
  });

  it('a replay honours Prefer: wait like the original', async () => {
    const adapter = new FakeAdapter({
      onStart: () => ({ upstreamId: 'u1', upstreamStatus: 'running', status: 'running' }),
    });
    fake = await buildFakeApp(adapter);
    await create(fake, body, 'w');
    const res = await fake.app.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: { ...auth(), 'idempotency-key': 'w', prefer: 'wait=1' },
      payload: body,
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['preference-applied']).toBe('wait=1');
    expect(res.headers['idempotent-replayed']).toBe('true');
    expect(adapter.starts).toHaveLength(1);
  });
});
