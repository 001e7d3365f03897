import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord, TenantRecord } from '../../domain/admin-store.js';
import { KeptLookups } from './kept-lookups.js';

const tenant = (limit: number) =>
  JSON.stringify({ id: 't', name: null, budget: { limitUsd: limit, period: 'day' } });

/** A stored value read through a counter, and a clock moved by hand. */
function harness() {
  const state = { stored: null as string | null, reads: 0, now: 0 };
  const cache = new KeptLookups<TenantRecord>(true, () => state.now);
  const get = () =>
    cache.get('t', async () => {
      state.reads++;
      return state.stored;
    });
  return { state, cache, get };
}

describe('KeptLookups', () => {
  it('keeps nothing until the change channel is heard', async () => {
    const { state, get } = harness();
    await get();
    await get();
    expect(state.reads).toBe(2);
  });

  it('keeps a lookup (absent tenants too) until a change of that tenant, at most a second', async () => {
    const { state, cache, get } = harness();
    cache.listening(true);
    expect(await get()).toBeUndefined();
    expect(await get()).toBeUndefined();
    expect(state.reads).toBe(1);
    state.stored = tenant(5);
    cache.changed('other');
    expect(await get()).toBeUndefined();
    cache.changed('t');
    expect((await get())?.budget?.limitUsd).toBe(5);
    expect(state.reads).toBe(2);
    state.now += 1000;
    await get();
    expect(state.reads).toBe(3);
  });

  it('does not keep a lookup a change overtook, nor anything while the channel is lost', async () => {
    const { state, cache } = harness();
    cache.listening(true);
    await cache.get('t', async () => {
      cache.changed('t'); // the change is heard while the read is on its way
      return null;
    });
    state.stored = tenant(1);
    expect(await cache.get('t', async () => state.stored)).toMatchObject({ id: 't' });
    cache.listening(false);
    let reads = 0;
    const read = async () => (reads++, state.stored);
    await cache.get('t', read);
    await cache.get('t', read);
    expect(reads).toBe(2);
  });

  it('without keepMissing, keeps found records only; changedAll drops every one', async () => {
    const keys = new KeptLookups<ApiKeyRecord>(false);
    keys.listening(true);
    let reads = 0;
    const stored = new Map<string, string>([['h1', JSON.stringify({ id: 'k1', hash: 'h1' })]]);
    const get = (hash: string) => keys.get(hash, async () => (reads++, stored.get(hash) ?? null));
    expect(await get('unknown')).toBeUndefined();
    expect(await get('unknown')).toBeUndefined();
    expect(reads).toBe(2);
    expect((await get('h1'))?.id).toBe('k1');
    expect((await get('h1'))?.id).toBe('k1');
    expect(reads).toBe(3);
    stored.delete('h1');
    keys.changedAll();
    expect(await get('h1')).toBeUndefined();
    expect(reads).toBe(4);
  });
});
