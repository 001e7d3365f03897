import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.js';
import { CredentialHealth, type CircuitEvent, type SharedCircuits } from './credential-health.js';

/** Two instances' breakers joined by an in-memory stand-in for the Redis channel and trial key. */
function cluster() {
  const listeners: ((event: CircuitEvent) => void)[] = [];
  const trials = new Set<string>();
  const shared: SharedCircuits = {
    publish: (event) => queueMicrotask(() => listeners.forEach((l) => l(event))),
    subscribe: (l) => void listeners.push(l),
    claimTrial: async (provider, credential) => {
      const key = `${provider}/${credential}`;
      if (trials.has(key)) return false;
      trials.add(key);
      return true;
    },
  };
  const policy = { failureThreshold: 2, coolDownMs: 60, shared };
  const health = () => new CredentialHealth('p', policy, undefined, Date.now);
  return { a: health(), b: health(), trials };
}

const failure = { error: new GatewayError('upstream_unavailable', 'down') };
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('circuit breakers shared by instances', () => {
  it('a circuit opened on one instance is open on the other; one trial over both; its success closes both', async () => {
    const { a, b, trials } = cluster();
    a.report('k', failure);
    a.report('k', failure);
    expect(a.state('k')).toBe('open');
    await tick();
    expect(b.state('k')).toBe('open');
    expect(b.usable('k')).toBe(false);

    // After the cool-down exactly one instance may run the trial.
    await tick(100);
    expect(trials.size).toBe(1);
    expect([a.usable('k'), b.usable('k')].filter(Boolean)).toHaveLength(1);
    const winner = a.usable('k') ? a : b;
    const other = winner === a ? b : a;
    expect(winner.taken('k')).toBe(true);
    winner.report('k', 'success');
    expect(winner.state('k')).toBe('closed');
    await tick();
    expect(other.state('k')).toBe('closed');
    expect(other.usable('k')).toBe(true);
  });

  it('without sharing, each instance keeps its own circuit', () => {
    const policy = { failureThreshold: 1, coolDownMs: 60 };
    const a = new CredentialHealth('p', policy, undefined, Date.now);
    const b = new CredentialHealth('p', policy, undefined, Date.now);
    a.report('k', failure);
    expect(a.state('k')).toBe('open');
    expect(b.state('k')).toBe('closed');
  });
});
