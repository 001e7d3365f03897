import { describe, expect, it } from 'vitest';
import type { Credential } from '../../src/config/config.js';
import { CredentialPool, type CredentialPoolOptions } from '../../src/domain/credential-pool.js';
import { GatewayError, isGatewayError } from '../../src/errors/gateway-error.js';

// The domain rules alone, on a hand-driven clock: slots, the wait queue, the circuit breaker.

const creds = (...caps: (number | undefined)[]): Credential[] =>
  caps.map((cap, i) => ({
    id: `c${i + 1}`,
    secret: `secret-${i + 1}`,
    ...(cap !== undefined ? { maxInFlight: cap } : {}),
  }));

function pool(credentials: Credential[], options: CredentialPoolOptions = {}) {
  const clock = { now: 1_000_000 };
  const logs: { level: string; obj: object; msg: string }[] = [];
  const log = (level: string) => (obj: object, msg: string) => logs.push({ level, obj, msg });
  const p = new CredentialPool('prov', credentials, 'first', {
    now: () => clock.now,
    logger: { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug') },
    ...options,
  });
  return { p, clock, logs };
}

const auth = new GatewayError('upstream_auth_failed', 'refused');
const credits = new GatewayError('upstream_credits_exhausted', 'no credits');
const fault = new GatewayError('upstream_error', 'boom', { retryable: true });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    return isGatewayError(err) ? err.code : 'other';
  }
}

describe('CredentialPool: in-flight caps and the wait queue', () => {
  it('fills the first credential to its cap, then the next, then refuses with 429', async () => {
    const { p } = pool(creds(2, 1));
    const got = [await p.reserve(), await p.reserve(), await p.reserve()].map((c) => c.id);
    expect(got).toEqual(['c1', 'c1', 'c2']);
    const err = await p.reserve().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'upstream_rate_limited', status: 429, requestSent: false });
    expect((err as GatewayError).retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(p.status().map((s) => [s.id, s.in_flight, s.cap])).toEqual([
      ['c1', 2, 2],
      ['c2', 1, 1],
    ]);
  });

  it('uses the provider default cap when a credential sets none; none at all: unlimited', async () => {
    const capped = pool(creds(undefined, 3), { defaultMaxInFlight: 1 }).p;
    expect(capped.status().map((s) => s.cap)).toEqual([1, 3]);
    const open = pool(creds(undefined)).p;
    for (let i = 0; i < 50; i++) await open.reserve();
    expect(open.status()[0]).toMatchObject({ in_flight: 50, cap: null });
  });

  it('a waiting create gets the slot a finished task frees, first come first served', async () => {
    const { p } = pool(creds(1), { queue: { max: 2, waitMs: 5000 } });
    await p.reserve();
    const order: string[] = [];
    const first = p.reserve().then((c) => order.push(`first:${c.id}`));
    const second = p.reserve().then((c) => order.push(`second:${c.id}`));
    expect(p.queueStatus()).toEqual({ waiting: 2, max: 2, wait_ms: 5000 });
    expect(await codeOf(p.reserve())).toBe('upstream_rate_limited'); // beyond the queue
    p.release('c1');
    await first;
    expect(order).toEqual(['first:c1']);
    p.release('c1');
    await second;
    expect(order).toEqual(['first:c1', 'second:c1']);
    expect(p.inFlightOf('c1')).toBe(1);
  });

  it('a create that waits longer than the wait time is refused with 429', async () => {
    const { p } = pool(creds(1), { queue: { max: 5, waitMs: 30 } });
    await p.reserve();
    const started = Date.now();
    const err = await p.reserve().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'upstream_rate_limited', requestSent: false });
    expect((err as Error).message).toContain('no slot freed up within 30 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(p.queueStatus().waiting).toBe(0);
  });
});

describe('CredentialPool: credential health', () => {
  it('an auth refusal takes a credential out at once; the next one serves; logged once', async () => {
    const { p, logs } = pool(creds(undefined, undefined), { health: { coolDownMs: 60_000 } });
    const first = await p.reserve();
    p.reportOutcome(first.id, { error: auth });
    expect(p.status().map((s) => s.state)).toEqual(['open', 'closed']);
    for (let i = 0; i < 5; i++) expect((await p.reserve()).id).toBe('c2');
    // Polls of c1's older tasks change nothing while it is open.
    p.reportOutcome('c1', { error: auth }, 'poll');
    p.reportOutcome('c1', 'success', 'poll');
    expect(p.status()[0]).toMatchObject({ state: 'open', last_error_code: 'upstream_auth_failed' });
    const errors = logs.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.obj).toMatchObject({ provider: 'prov', credential: 'c1' });
    expect(JSON.stringify(logs)).not.toContain('secret-');
  });

  it('consecutive transient failures open it at the threshold; a success in between resets', async () => {
    const { p, logs } = pool(creds(undefined, undefined), { health: { failureThreshold: 3 } });
    p.reportOutcome('c1', { error: fault });
    p.reportOutcome('c1', { error: fault });
    p.reportOutcome('c1', 'success', 'poll');
    p.reportOutcome('c1', { error: fault }, 'poll');
    p.reportOutcome('c1', { error: fault });
    expect(p.status()[0]).toMatchObject({ state: 'closed', consecutive_failures: 2 });
    p.reportOutcome('c1', { error: fault });
    expect(p.status()[0]).toMatchObject({
      state: 'open',
      consecutive_failures: 3,
      total_failures: 5,
      last_error_code: 'upstream_error',
    });
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);
    // Rate limits and refused input say nothing against the credential.
    p.reportOutcome('c2', { error: new GatewayError('upstream_rate_limited', 'slow down') });
    p.reportOutcome('c2', { error: new GatewayError('upstream_rejected', 'bad prompt') });
    expect(p.status()[1]).toMatchObject({ state: 'closed', total_failures: 0 });
  });

  it('all out of rotation: 503 no_credential_available with Retry-After until the cool-down ends', async () => {
    const { p, clock } = pool(creds(undefined, undefined), { health: { coolDownMs: 10_000 } });
    p.reportOutcome('c1', { error: auth });
    clock.now += 4000;
    p.reportOutcome('c2', { error: credits });
    const err = await p.reserve().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'no_credential_available', status: 503, requestSent: false });
    expect((err as GatewayError).retryAfterMs).toBe(6000);
  });

  it('after the cool-down: one trial create; its success closes the circuit', async () => {
    const { p, clock, logs } = pool(creds(undefined, undefined), { health: { coolDownMs: 1000 } });
    p.reportOutcome('c1', { error: auth });
    clock.now += 1000;
    expect(p.status()[0]?.state).toBe('half_open');
    const trial = await p.reserve();
    expect(trial.id).toBe('c1'); // half-open goes first, so it gets its trial
    expect((await p.reserve()).id).toBe('c2'); // only one trial at a time
    p.reportOutcome('c1', 'success', 'poll'); // a poll does not decide the trial
    expect(p.status()[0]?.state).toBe('half_open');
    p.reportOutcome('c1', 'success');
    expect(p.status()[0]).toMatchObject({ state: 'closed', consecutive_failures: 0 });
    expect(logs.map((l) => l.level)).toEqual(['error', 'info']);
  });

  it('a failed trial opens it again for another cool-down without a second operator alert', async () => {
    const { p, clock, logs } = pool(creds(undefined), { health: { coolDownMs: 1000 } });
    p.reportOutcome('c1', { error: credits });
    clock.now += 1000;
    const trial = await p.reserve();
    // Its one trial is running: nothing else may use it meanwhile.
    expect(await codeOf(p.reserve())).toBe('no_credential_available');
    p.reportOutcome(trial.id, { error: credits });
    expect(p.status()[0]).toMatchObject({ state: 'open' });
    expect(logs.filter((l) => l.level === 'error')).toHaveLength(1);
    expect(logs.filter((l) => l.level === 'debug')).toHaveLength(1);
  });

  it('waiting creates are refused with 503 when the last usable credential goes out', async () => {
    const { p } = pool(creds(1), { queue: { max: 5, waitMs: 5000 } });
    const held = await p.reserve();
    const waiting = codeOf(p.reserve());
    p.reportOutcome(held.id, { error: auth });
    expect(await waiting).toBe('no_credential_available');
  });
});
