import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.js';
import { checkAccess, modelAllowed, modelMatches } from './access.js';

const acme = { requested: 'acme', publicId: 'acme/v5', provider: 'acme' };
const still = { requested: 'globex/still', publicId: 'globex/still', provider: 'globex' };

const codeOf = (f: () => void) => {
  try {
    f();
    return 'allowed';
  } catch (err) {
    return (err as GatewayError).code;
  }
};

describe('key rules', () => {
  it('matches exact ids, the requested spelling and provider/* patterns', () => {
    expect(modelMatches('acme/*', acme)).toBe(true);
    expect(modelMatches('acme/v5', acme)).toBe(true);
    expect(modelMatches('acme', acme)).toBe(true);
    expect(modelMatches('acme/v4', acme)).toBe(false);
    expect(modelMatches('globex/*', acme)).toBe(false);
    expect(modelMatches('pix*', acme)).toBe(false);
  });

  it('allows everything without rules or lists', () => {
    expect(codeOf(() => checkAccess(undefined, 'text-to-video', acme))).toBe('allowed');
    expect(codeOf(() => checkAccess({ models: null }, 'text-to-video', acme))).toBe('allowed');
  });

  it('refuses another model with model_not_allowed (403)', () => {
    const rules = { models: ['globex/still'] };
    expect(codeOf(() => checkAccess(rules, 'text-to-image', still))).toBe('allowed');
    expect(codeOf(() => checkAccess(rules, 'text-to-video', acme))).toBe('model_not_allowed');
    expect(new GatewayError('model_not_allowed').status).toBe(403);
    expect(modelAllowed(rules, acme)).toBe(false);
    expect(modelAllowed(rules, still)).toBe(true);
  });

  it('refuses another operation with operation_not_allowed (403), checked first', () => {
    const rules = { models: ['globex/*'], operations: ['text-to-image' as const] };
    expect(codeOf(() => checkAccess(rules, 'text-to-image', still))).toBe('allowed');
    expect(codeOf(() => checkAccess(rules, 'text-to-video', acme))).toBe('operation_not_allowed');
    expect(codeOf(() => checkAccess({ models: [] }, 'text-to-image', still))).toBe(
      'model_not_allowed',
    );
  });
});
