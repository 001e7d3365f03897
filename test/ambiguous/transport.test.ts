import { afterEach, describe, expect, it } from 'vitest';
import { startFailureOf } from '../../src/domain/start-outcome.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { UpstreamClient } from '../../src/providers/http-client.js';
import { closedPort, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';

/**
 * The upstream client tells a create that provably never left (connection refused, DNS) from
 * one that may have reached the upstream (timeout after sending, reset mid-answer).
 */

let fake: FakeUpstream | undefined;
let client: UpstreamClient | undefined;
afterEach(async () => {
  await client?.close();
  await fake?.close();
  client = fake = undefined;
});

async function failureOf(url: string, timeoutMs = 5000): Promise<GatewayError> {
  client = new UpstreamClient({ provider: 'fakeprov', timeoutMs });
  try {
    await client.send(url, { method: 'POST', json: { prompt: 'x' } });
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('transport failures of an upstream call', () => {
  it('connection refused: upstream_unavailable, provably not sent', async () => {
    const err = await failureOf(`http://127.0.0.1:${await closedPort()}/create`);
    expect(err).toMatchObject({ code: 'upstream_unavailable', requestSent: false });
    expect(startFailureOf(err)).toBe('not-sent');
  });

  it('a host DNS does not know: upstream_unavailable, provably not sent', async () => {
    const err = await failureOf('http://genway-test-no-such-host.invalid/create');
    expect(err).toMatchObject({ code: 'upstream_unavailable', requestSent: false });
    expect(startFailureOf(err)).toBe('not-sent');
  });

  it('socket destroyed after the request was read: may have been sent', async () => {
    fake = await startFakeUpstream({ kind: 'reset' });
    const err = await failureOf(`${fake.url}/create`);
    expect(err.code).toBe('upstream_error');
    expect(err.requestSent).toBeUndefined();
    expect(startFailureOf(err)).toBe('unknown');
    expect(fake.calls).toHaveLength(1);
  });

  it('no answer within the timeout (headers timeout after sending): may have been sent', async () => {
    fake = await startFakeUpstream({ kind: 'hang' });
    const started = Date.now();
    const err = await failureOf(`${fake.url}/create`, 200);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err.code).toBe('upstream_timeout');
    expect(err.requestSent).toBeUndefined();
    expect(startFailureOf(err)).toBe('unknown');
    expect(fake.calls).toHaveLength(1);
  });
});

describe('what a failed create says about the upstream job', () => {
  it.each([
    ['a bare 5xx', new GatewayError('upstream_error', 'x', { retryable: true }), 'unknown'],
    ['an unreadable answer', new GatewayError('upstream_bad_response', 'x'), 'unknown'],
    ['a timeout', new GatewayError('upstream_timeout', 'x', { retryable: true }), 'unknown'],
    ['an unexpected error', new Error('boom'), 'unknown'],
    [
      'a 5xx-class business refusal marked definitive',
      new GatewayError('upstream_error', 'x', { retryable: true, definitive: true }),
      'refused',
    ],
    [
      'a non-retryable upstream_error (no such route)',
      new GatewayError('upstream_error'),
      'refused',
    ],
    ['a validation refusal', new GatewayError('upstream_rejected'), 'refused'],
    ['moderation', new GatewayError('moderation_failed'), 'refused'],
    ['an auth refusal', new GatewayError('upstream_auth_failed'), 'refused'],
    ['no credits', new GatewayError('upstream_credits_exhausted'), 'refused'],
    [
      'a rate limit',
      new GatewayError('upstream_rate_limited', 'x', { retryable: true }),
      'refused',
    ],
    [
      'a refusal by the credential pool',
      new GatewayError('no_credential_available', 'x', { requestSent: false }),
      'not-sent',
    ],
  ] as const)('%s → %s', (_name, err, expected) => {
    expect(startFailureOf(err)).toBe(expected);
  });
});
