import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'genway-idem-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('idempotency, upstream timeout and fallback settings', () => {
  it('default to a 24 h key lifetime, a 10 s wait, a 30 s upstream timeout and no fallbacks', () => {
    const config = loadConfig({});
    expect(config.idempotency).toEqual({ ttlMs: 86_400_000, waitMs: 10_000 });
    expect(config.upstreamTimeoutMs).toBe(30_000);
    expect(config.fallbacks).toEqual({});
  });

  it('are read from IDEMPOTENCY_TTL_SECONDS, IDEMPOTENCY_WAIT_MS and UPSTREAM_TIMEOUT_MS', () => {
    const config = loadConfig({
      IDEMPOTENCY_TTL_SECONDS: '3600',
      IDEMPOTENCY_WAIT_MS: '0',
      UPSTREAM_TIMEOUT_MS: '5000',
    });
    expect(config.idempotency).toEqual({ ttlMs: 3_600_000, waitMs: 0 });
    expect(config.upstreamTimeoutMs).toBe(5000);
  });

  it('reports bad values, naming the variable', () => {
    const named = problemsOf({
      IDEMPOTENCY_TTL_SECONDS: '0',
      IDEMPOTENCY_WAIT_MS: 'soon',
      UPSTREAM_TIMEOUT_MS: '10',
    }).map((p) => p.split(':')[0]);
    expect(named).toEqual(
      expect.arrayContaining([
        'IDEMPOTENCY_TTL_SECONDS',
        'IDEMPOTENCY_WAIT_MS',
        'UPSTREAM_TIMEOUT_MS',
      ]),
    );
  });

  it('reads `fallbacks` from the GATEWAY_CONFIG file', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(
      file,
      'fallbacks:\n  modelslab/sdxl:\n    - replicate/stability-ai/sdxl\n    - fast-image\n',
    );
    expect(loadConfig({ GATEWAY_CONFIG: file }).fallbacks).toEqual({
      'modelslab/sdxl': ['replicate/stability-ai/sdxl', 'fast-image'],
    });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'fallbacks:\n  modelslab/sdxl: replicate/x\n');
    const problems = problemsOf({ GATEWAY_CONFIG: bad });
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(p).toMatch(/^GATEWAY_CONFIG fallbacks\.modelslab\/sdxl: /);
  });
});
