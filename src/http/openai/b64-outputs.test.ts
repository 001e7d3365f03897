import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../../errors/gateway-error.js';
import { EncodingSlots } from './b64-outputs.js';

const never = new AbortController().signal;

describe('EncodingSlots', () => {
  it('gives a tenant at most its share and everyone at most the total; waiters go next', async () => {
    const slots = new EncodingSlots({ total: 3, perTenant: 2 });
    const a1 = await slots.take('a', never, 5000);
    await slots.take('a', never, 5000);
    let third = false;
    const a3 = slots.take('a', never, 5000).then((release) => ((third = true), release));
    const b1 = await slots.take('b', never, 5000);
    let b2Taken = false;
    const b2 = slots.take('b', never, 5000).then((release) => ((b2Taken = true), release));
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false);
    expect(b2Taken).toBe(false);
    a1();
    a1(); // given back once only
    expect(await a3).toBeTypeOf('function');
    expect(b2Taken).toBe(false);
    b1();
    expect(await b2).toBeTypeOf('function');
  });

  it('stops waiting when the client leaves or after the longest wait', async () => {
    const slots = new EncodingSlots({ total: 1, perTenant: 1 });
    await slots.take('a', never, 5000);
    const gone = new AbortController();
    const leaving = slots.take('a', gone.signal, 5000);
    gone.abort(new Error('client gone'));
    await expect(leaving).rejects.toThrow('client gone');
    const err = await slots.take('b', never, 30).catch((e: unknown) => e);
    expect(isGatewayError(err) && err.code).toBe('rate_limited');
  });
});
