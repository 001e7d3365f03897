import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.js';
import { CredentialHealth, verdictOf } from './credential-health.js';

const failure = (code: ConstructorParameters<typeof GatewayError>[0], signal?: boolean) => ({
  error: new GatewayError(code, 'x', signal === undefined ? {} : { credentialSignal: signal }),
});

describe('verdictOf', () => {
  it('counts auth refusals, transport failures and 5xx; not answers the error marks as shaped by the input', () => {
    expect(verdictOf(failure('upstream_auth_failed')).verdict).toBe('refused');
    expect(verdictOf(failure('upstream_unavailable')).verdict).toBe('failure');
    expect(verdictOf(failure('upstream_error')).verdict).toBe('failure');
    expect(verdictOf(failure('upstream_bad_response', true)).verdict).toBe('failure');
    expect(verdictOf(failure('upstream_bad_response', false))).toEqual({
      verdict: 'neutral',
      code: 'upstream_bad_response',
    });
    expect(verdictOf(failure('upstream_rejected')).verdict).toBe('success');
  });
});

describe('CredentialHealth', () => {
  it('answers without a credential signal never open the circuit, nor reset the count of real failures', () => {
    const health = new CredentialHealth(
      'p',
      { failureThreshold: 3, coolDownMs: 60_000 },
      undefined,
      () => 0,
    );
    for (let i = 0; i < 20; i++)
      health.report('c1', failure('upstream_bad_response', false), 'poll');
    expect(health.state('c1')).toBe('closed');
    health.report('c1', failure('upstream_error'), 'poll');
    health.report('c1', failure('upstream_bad_response', false), 'poll');
    health.report('c1', failure('upstream_error'), 'poll');
    expect(health.view('c1').consecutiveFailures).toBe(2);
    health.report('c1', failure('upstream_timeout'), 'poll');
    expect(health.state('c1')).toBe('open');
  });
});
