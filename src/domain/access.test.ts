import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.js';
import { checkAccess, modelAllowed, modelMatches } from './access.js';

const pixverse = { requested: 'pixverse', publicId: 'pixverse/v5', provider: 'pixverse' };
const sdxl = { requested: 'modelslab/sdxl', publicId: 'modelslab/sdxl', provider: 'modelslab' };

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
    expect(modelMatches('pixverse/*', pixverse)).toBe(true);
    expect(modelMatches('pixverse/v5', pixverse)).toBe(true);
    expect(modelMatches('pixverse', pixverse)).toBe(true);
    expect(modelMatches('pixverse/v4', pixverse)).toBe(false);
    expect(modelMatches('modelslab/*', pixverse)).toBe(false);
    expect(modelMatches('pix*', pixverse)).toBe(false);
  });

  it('allows everything without rules or lists', () => {
    expect(codeOf(() => checkAccess(undefined, 'text-to-video', pixverse))).toBe('allowed');
    expect(codeOf(() => checkAccess({ models: null }, 'text-to-video', pixverse))).toBe('allowed');
  });

  it('refuses another model with model_not_allowed (403)', () => {
    const rules = { models: ['modelslab/sdxl'] };
    expect(codeOf(() => checkAccess(rules, 'text-to-image', sdxl))).toBe('allowed');
    expect(codeOf(() => checkAccess(rules, 'text-to-video', pixverse))).toBe('model_not_allowed');
    expect(new GatewayError('model_not_allowed').status).toBe(403);
    expect(modelAllowed(rules, pixverse)).toBe(false);
    expect(modelAllowed(rules, sdxl)).toBe(true);
  });

  it('refuses another operation with operation_not_allowed (403), checked first', () => {
    const rules = { models: ['modelslab/*'], operations: ['text-to-image' as const] };
    expect(codeOf(() => checkAccess(rules, 'text-to-image', sdxl))).toBe('allowed');
    expect(codeOf(() => checkAccess(rules, 'text-to-video', pixverse))).toBe(
      'operation_not_allowed',
    );
    expect(codeOf(() => checkAccess({ models: [] }, 'text-to-image', sdxl))).toBe(
      'model_not_allowed',
    );
  });
});
