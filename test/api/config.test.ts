import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, secretsOf } from '../../src/config/load.js';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

const tempFile = (name: string, text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'genway-config-')), name);
  writeFileSync(path, text);
  return path;
};

describe('configuration', () => {
  it('with nothing set, serves the emulators with the development key and SQLite under ./data', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, host: '0.0.0.0', useEmulators: true, devKey: true });
    expect(config.storeUrl).toBe('sqlite:./data/genway.db');
  });

  it('reports every problem at once, each naming its variable', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      STORE_URL: 'postgres://x',
      MODELSLAB_LOAD_BALANCER: 'maybe',
      WEBHOOK_SECRET: 'plain',
      PUBLIC_URL: 'not a url',
    });
    const named = problems.map((p) => p.split(':')[0]);
    expect(named).toEqual(
      expect.arrayContaining([
        'PORT',
        'STORE_URL',
        'MODELSLAB_LOAD_BALANCER',
        'WEBHOOK_SECRET',
        'PUBLIC_URL',
      ]),
    );
  });

  it('requires gateway keys once real credentials are configured', () => {
    expect(problemsOf({ MODELSLAB_API_KEYS: 'k1' })).toEqual([
      'GATEWAY_API_KEYS: required once provider credentials are configured',
    ]);
  });

  it('refuses short gateway keys and a Haiper key without its endpoint path', () => {
    const problems = problemsOf({ GATEWAY_API_KEYS: 'short', HAIPER_ACCESS_KEY: 'hk' });
    expect(problems).toEqual(
      expect.arrayContaining([
        'GATEWAY_API_KEYS: every key must be at least 16 characters',
        'HAIPER_ENDPOINT_PATH: required when HAIPER_ACCESS_KEY is set',
      ]),
    );
  });

  it('reads ModelsLab enterprise keys and the load-balancer switch from the environment', () => {
    const config = loadConfig({
      GATEWAY_API_KEYS: 'gw_key_0123456789abcdef',
      MODELSLAB_API_KEYS: 'server-a-key, server-b-key',
      MODELSLAB_LOAD_BALANCER: 'false',
      MODELSLAB_VIDEO_PATH: '/api/v1/enterprise/text2video',
    });
    expect(config.useEmulators).toBe(false);
    expect(config.providers.modelslab).toMatchObject({
      loadBalancer: false,
      videoPath: '/api/v1/enterprise/text2video',
      credentials: [
        { id: 'modelslab-1', secret: 'server-a-key' },
        { id: 'modelslab-2', secret: 'server-b-key' },
      ],
    });
    expect(secretsOf(config)).toEqual(
      expect.arrayContaining(['server-a-key', 'server-b-key', 'gw_key_0123456789abcdef']),
    );
  });

  it('adds tenants, aliases and several credentials from a YAML file with ${VAR} interpolation', () => {
    const file = tempFile(
      'genway.yaml',
      [
        'tenants:',
        '  - id: acme',
        '    keys: ["${ACME_KEY}"]',
        'aliases:',
        '  fast-image: modelslab/sdxl',
        'providers:',
        '  modelslab:',
        '    load_balancer: false',
        '    credentials:',
        '      - { id: server-a, secret: "${ML_A}", max_in_flight: 5 }',
        '      - { id: server-b, secret: "${ML_B}" }',
      ].join('\n'),
    );
    const config = loadConfig({
      GATEWAY_CONFIG: file,
      ACME_KEY: 'acme_key_0123456789abcdef',
      ML_A: 'a-secret',
      ML_B: 'b-secret',
    });
    expect(config.tenants).toEqual([{ id: 'acme', keys: ['acme_key_0123456789abcdef'] }]);
    expect(config.aliases).toEqual({ 'fast-image': 'modelslab/sdxl' });
    expect(config.providers.modelslab?.credentials).toEqual([
      { id: 'server-a', secret: 'a-secret', maxInFlight: 5 },
      { id: 'server-b', secret: 'b-secret', maxInFlight: undefined },
    ]);
  });

  it('reads JSON files too, and names unset variables and bad fields of the file', () => {
    const file = tempFile(
      'genway.json',
      JSON.stringify({ tenants: [{ id: 'x', keys: ['${NOPE}'] }], extra: 1 }),
    );
    const problems = problemsOf({ GATEWAY_CONFIG: file });
    expect(problems).toEqual(
      expect.arrayContaining([
        'GATEWAY_CONFIG tenants[0].keys[0]: variable ${NOPE} is not set',
        expect.stringMatching(/^GATEWAY_CONFIG \(root\): Unrecognized key/),
      ]),
    );
  });

  it('names a missing or unreadable file', () => {
    expect(problemsOf({ GATEWAY_CONFIG: '/nonexistent/genway.yaml' })[0]).toMatch(
      /^GATEWAY_CONFIG: cannot read/,
    );
  });
});
