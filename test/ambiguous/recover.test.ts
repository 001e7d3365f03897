import { afterEach, describe, expect, it } from 'vitest';
import type { RecoverCall, StartCall, UpstreamSnapshot } from '../../src/domain/ports.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { FakeAdapter, buildFakeApp, type FakeApp } from '../helpers/fake-provider.js';
import { auth } from '../helpers/test-app.js';

/**
 * The domain side of recovery: an adapter that can find a job whose create answer was lost
 * (`ProviderAdapter.recover`) turns an ambiguous create into a followed task; one that finds
 * nothing (or has no such method) leaves it failed as upstream_outcome_unknown. No adapter of
 * a real provider implements `recover` yet (see the report): none of the four upstreams lets
 * genway find a job for sure without an id it never received.
 */

class RecoveringAdapter extends FakeAdapter {
  readonly recovers: RecoverCall[] = [];
  constructor(private readonly found: UpstreamSnapshot | undefined) {
    super({
      onStart: () => {
        throw new GatewayError('upstream_timeout', 'fake did not answer in time', {
          retryable: true,
        });
      },
    });
  }
  async recover(call: RecoverCall): Promise<UpstreamSnapshot | undefined> {
    this.recovers.push(call);
    return this.found;
  }
}

let fake: FakeApp | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const create = (app: FakeApp) =>
  app.app.inject({
    method: 'POST',
    url: '/v1/text-to-image',
    headers: auth(),
    payload: { model: 'fake/m1', prompt: 'a lost answer' },
  });

describe('recovering a create whose answer was lost', () => {
  it('a job the adapter finds: the task follows it, and nothing was sent twice', async () => {
    const adapter = new RecoveringAdapter({
      upstreamId: 'found-7',
      upstreamStatus: 'processing',
      status: 'running',
    });
    fake = await buildFakeApp(adapter);
    const before = Date.now();
    const res = await create(fake);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ status: 'running', upstream: { id: 'found-7' } });
    expect(adapter.starts).toHaveLength(1);
    expect(adapter.recovers).toHaveLength(1);
    const [call] = adapter.recovers as [RecoverCall];
    const [start] = adapter.starts as [StartCall];
    expect(call.credential.id).toBe(start.credential.id);
    expect(call.input).toEqual(start.input);
    expect(call.sentAt).toBeGreaterThanOrEqual(before);
    expect(fake.logs.some((l) => l.includes('the upstream job was found'))).toBe(true);
  });

  it('nothing found: failed with upstream_outcome_unknown', async () => {
    const adapter = new RecoveringAdapter(undefined);
    fake = await buildFakeApp(adapter);
    const res = await create(fake);
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({ code: 'upstream_outcome_unknown' });
    expect(adapter.starts).toHaveLength(1);
    expect(adapter.recovers).toHaveLength(1);
  });

  it('a definitive refusal is not a lost answer: no recovery is attempted', async () => {
    const adapter = new RecoveringAdapter(undefined);
    adapter.start = async (call) => {
      adapter.starts.push(call);
      throw new GatewayError('upstream_rejected', 'bad prompt');
    };
    fake = await buildFakeApp(adapter);
    const res = await create(fake);
    expect(res.statusCode).toBe(422);
    expect(adapter.recovers).toHaveLength(0);
  });
});
