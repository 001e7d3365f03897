import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commonEnv, commonSettings, emulatedSettings, settingsIn } from './provider-module.js';
import { PROVIDERS } from './registry.js';

const env = { baseUrl: 'https://up.example', keys: undefined, maxInFlight: undefined };

describe('commonSettings', () => {
  it('is undefined without a credential: the provider is off', () => {
    expect(commonSettings('p', env, undefined)).toBeUndefined();
    expect(commonSettings('p', { ...env, keys: ' , ' }, { credentials: [] })).toBeUndefined();
  });

  it('numbers the keys of the variable, caps them, then adds the file credentials', () => {
    const settings = commonSettings(
      'p',
      { ...env, keys: 'k1, k2', maxInFlight: 3 },
      {
        credentials: [{ id: 'own', secret: 's', max_in_flight: 7, polls_per_second: 2 }],
        polls_per_second: 4,
      },
    );
    expect(settings).toEqual({
      baseUrl: 'https://up.example',
      emulated: false,
      pollsPerSecond: 4,
      credentials: [
        { id: 'p-1', secret: 'k1', maxInFlight: 3 },
        { id: 'p-2', secret: 'k2', maxInFlight: 3 },
        { id: 'own', secret: 's', maxInFlight: 7, pollsPerSecond: 2 },
      ],
    });
  });

  it("prefers the file's base_url to the variable's", () => {
    const file = { base_url: 'https://file.example', credentials: [{ id: 'a', secret: 's' }] };
    expect(commonSettings('p', env, file)?.baseUrl).toBe('https://file.example');
  });
});

describe('commonEnv', () => {
  const common = commonEnv('p', 'https://up.example', {
    baseUrl: 'P_BASE_URL',
    keys: 'P_KEYS',
    maxInFlight: 'P_MAX_IN_FLIGHT',
  });

  it('declares the three variables under the names given, the base URL with its default', () => {
    const schema = z.object(common.schema);
    expect(Object.keys(common.schema)).toEqual(['P_BASE_URL', 'P_KEYS', 'P_MAX_IN_FLIGHT']);
    expect(schema.parse({})).toEqual({ P_BASE_URL: 'https://up.example' });
    expect(schema.parse({ P_KEYS: 'k', P_MAX_IN_FLIGHT: '2' })).toMatchObject({
      P_KEYS: 'k',
      P_MAX_IN_FLIGHT: 2,
    });
    expect(schema.safeParse({ P_MAX_IN_FLIGHT: '0' }).success).toBe(false);
  });

  it('reads them as commonSettings does', () => {
    const env = { P_BASE_URL: 'https://up.example', P_KEYS: 'k1', P_MAX_IN_FLIGHT: 2 };
    expect(common.settings(env, undefined)).toEqual(
      commonSettings('p', { baseUrl: 'https://up.example', keys: 'k1', maxInFlight: 2 }, undefined),
    );
    expect(common.settings({ P_BASE_URL: 'https://up.example' }, undefined)).toBeUndefined();
  });
});

describe('the registry', () => {
  it('has one module per id, and no two modules read the same variable', () => {
    const ids = PROVIDERS.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const variables = PROVIDERS.flatMap((p) => Object.keys(p.config.env));
    expect(new Set(variables).size).toBe(variables.length);
  });

  it('finds settings by id, whatever the list', () => {
    const acme = emulatedSettings('acme', 'http://127.0.0.1:1', 'k');
    expect(settingsIn({ acme }, 'acme')).toEqual({
      baseUrl: 'http://127.0.0.1:1',
      credentials: [{ id: 'acme-emulator', secret: 'k' }],
      emulated: true,
    });
    expect(settingsIn({ acme }, 'other')).toBeUndefined();
  });
});
