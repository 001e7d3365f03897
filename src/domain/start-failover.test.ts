import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.js';
import { CredentialPool } from './credential-pool.js';
import { ModelRegistry, type ResolvedModel } from './models.js';
import type { ProviderAdapter } from './ports.js';
import { fallbackModels, StartFailover, type StartTarget } from './start-failover.js';

/** An adapter serving `m1` for text-to-image whose rules refuse prompts over `maxPrompt`. */
function adapter(id: string, maxPrompt = Infinity): ProviderAdapter {
  return {
    id,
    models: () => [{ name: 'm1', operations: ['text-to-image'], limits: {}, isDefault: true }],
    validate: (_op, _model, input) =>
      (input.prompt?.length ?? 0) > maxPrompt ? [{ path: 'prompt', message: 'too long' }] : [],
    start: () => Promise.reject(new Error('not used')),
    poll: () => Promise.reject(new Error('not used')),
  };
}

const models = new ModelRegistry(
  new Map([
    ['a', { adapter: adapter('a'), emulated: true }],
    ['b', { adapter: adapter('b', 3), emulated: true }],
    ['c', { adapter: adapter('c'), emulated: true }],
  ]),
  { fast: 'a/m1' },
);

function pool(provider: string, count: number): CredentialPool {
  const credentials = Array.from({ length: count }, (_, i) => ({
    id: `${provider}-${i + 1}`,
    secret: `s${i}`,
  }));
  return new CredentialPool(provider, credentials, 'first');
}

const notSent = new GatewayError('upstream_unavailable', 'refused', { requestSent: false });
const unknown = new GatewayError('upstream_timeout', 'no answer');

async function firstTarget(pools: Map<string, CredentialPool>): Promise<StartTarget> {
  const p = pools.get('a')!;
  return { model: models.resolve('a', 'text-to-image'), pool: p, credential: await p.reserve() };
}

describe('StartFailover', () => {
  it('moves to the next credential of the provider when nothing was sent', async () => {
    const pools = new Map([['a', pool('a', 2)]]);
    const failover = new StartFailover(pools, []);
    const first = await firstTarget(pools);
    const second = await failover.next(first, notSent);
    expect(second?.credential.id).toBe('a-2');
    expect(second?.model.publicId).toBe('a/m1');
    // Both tried, no fallback: the create fails.
    expect(await failover.next(second!, notSent)).toBeUndefined();
  });

  it('never moves a create that may have started a job', async () => {
    const pools = new Map([
      ['a', pool('a', 2)],
      ['c', pool('c', 1)],
    ]);
    const failover = new StartFailover(pools, [models.resolve('c', 'text-to-image')]);
    expect(await failover.next(await firstTarget(pools), unknown)).toBeUndefined();
  });

  it('a credential the provider refused moves to another credential, not another model', async () => {
    const pools = new Map([
      ['a', pool('a', 2)],
      ['c', pool('c', 1)],
    ]);
    const refused = new GatewayError('upstream_auth_failed', 'bad key');
    const failover = new StartFailover(pools, [models.resolve('c', 'text-to-image')]);
    const second = await failover.next(await firstTarget(pools), refused);
    expect(second?.credential.id).toBe('a-2');
    expect(await failover.next(second!, refused)).toBeUndefined();
  });

  it('then goes to the fallback models in order, skipping those without a free credential', async () => {
    const pools = new Map([
      ['a', pool('a', 1)],
      ['c', pool('c', 1)],
    ]);
    const fallbacks: ResolvedModel[] = [
      models.resolve('b', 'text-to-image'),
      models.resolve('c', 'text-to-image'),
    ];
    const failover = new StartFailover(pools, fallbacks);
    const next = await failover.next(await firstTarget(pools), notSent);
    expect(next).toMatchObject({ model: { publicId: 'c/m1' }, credential: { id: 'c-1' } });
  });
});

describe('fallbackModels', () => {
  const configured = { 'a/m1': ['b/m1', 'nope/m1', 'c'], other: ['c'] };
  const query = {
    requested: 'fast',
    resolved: models.resolve('fast', 'text-to-image'),
    operation: 'text-to-image' as const,
    input: { prompt: 'a cat' },
    raw: undefined,
  };

  it('the configured models that exist and accept the input, by public id', () => {
    // `b` refuses a 5-character prompt; `nope` is unknown.
    expect(fallbackModels(models, configured, query).map((m) => m.publicId)).toEqual(['c/m1']);
    const short = { ...query, input: { prompt: 'cat' } };
    expect(fallbackModels(models, configured, short).map((m) => m.publicId)).toEqual([
      'b/m1',
      'c/m1',
    ]);
  });

  it('by the name asked for when the public id has none; never for raw inputs', () => {
    const other = { ...query, requested: 'other', resolved: models.resolve('a', 'text-to-image') };
    expect(fallbackModels(models, { other: ['c'] }, other).map((m) => m.publicId)).toEqual([
      'c/m1',
    ]);
    expect(fallbackModels(models, configured, { ...query, raw: {} })).toEqual([]);
    expect(fallbackModels(models, undefined, query)).toEqual([]);
  });
});
