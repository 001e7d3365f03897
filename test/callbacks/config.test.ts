import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, secretsOf } from '../../src/config/load.js';

const BASE = {
  GATEWAY_API_KEYS: 'gw_test_tenant_a_0123456789abcdef',
  STORE_URL: 'memory:',
  REPLICATE_API_TOKEN: 'r8_config_test_token',
  PIXVERSE_API_KEY: 'pixverse-config-test-key',
};
const WHSEC_A = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const WHSEC_B = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...BASE, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('upstream webhook configuration', () => {
  it('reads REPLICATE_WEBHOOK_SECRET (one per account) and the PixVerse webhook id and secret', () => {
    const config = loadConfig({
      ...BASE,
      PUBLIC_URL: 'https://genway.example.com/',
      REPLICATE_WEBHOOK_SECRET: `${WHSEC_A}, ${WHSEC_B}`,
      PIXVERSE_WEBHOOK_ID: '1234',
      PIXVERSE_WEBHOOK_SECRET: 'pixverse-webhook-secret',
    });
    expect(config.publicUrl).toBe('https://genway.example.com');
    expect(config.providers.replicate?.webhookSecrets).toEqual([WHSEC_A, WHSEC_B]);
    expect(config.providers.pixverse).toMatchObject({
      webhookId: '1234',
      webhookSecret: 'pixverse-webhook-secret',
    });
    // Treated as secrets: scrubbed from logs, searched for by the tests' scans.
    expect(secretsOf(config)).toEqual(
      expect.arrayContaining([WHSEC_A, WHSEC_B, 'pixverse-webhook-secret']),
    );
  });

  it('leaves webhooks off when the variables are unset', () => {
    const config = loadConfig(BASE);
    expect(config.providers.replicate?.webhookSecrets).toBeUndefined();
    expect(config.providers.pixverse?.webhookId).toBeUndefined();
    expect(config.providers.pixverse?.webhookSecret).toBeUndefined();
  });

  it('reports bad values, naming the variable', () => {
    expect(problemsOf({ REPLICATE_WEBHOOK_SECRET: 'not-a-secret' })).toEqual([
      expect.stringMatching(/^REPLICATE_WEBHOOK_SECRET: /),
    ]);
    expect(problemsOf({ PIXVERSE_WEBHOOK_ID: 'has spaces' })).toEqual([
      expect.stringMatching(/^PIXVERSE_WEBHOOK_ID: /),
    ]);
    expect(problemsOf({ PIXVERSE_WEBHOOK_ID: '1234' })).toEqual([
      expect.stringMatching(/^PIXVERSE_WEBHOOK_SECRET: required with PIXVERSE_WEBHOOK_ID/),
    ]);
  });
});
