import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { deriveTenantWebhookSecret } from './webhook-secrets.js';

const MASTER = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('deriveTenantWebhookSecret', () => {
  it('is stable, per tenant, and unlike the master secret', () => {
    const a = deriveTenantWebhookSecret(MASTER, 'tenant_a');
    expect(deriveTenantWebhookSecret(MASTER, 'tenant_a')).toBe(a);
    expect(deriveTenantWebhookSecret(MASTER, 'tenant_b')).not.toBe(a);
    expect(
      deriveTenantWebhookSecret('whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD', 'tenant_a'),
    ).not.toBe(a);
    expect(a).not.toContain(MASTER.slice('whsec_'.length));
  });

  it('is a usable whsec_ secret: 32 bytes of standard base64, no `_` after the prefix', () => {
    const secret = deriveTenantWebhookSecret(MASTER, 'tenant_a');
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    const signer = new Webhook(secret);
    const at = new Date();
    const signature = signer.sign('msg_1', at, '{}');
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
    };
    expect(signer.verify('{}', headers)).toEqual({});
    expect(() =>
      new Webhook(deriveTenantWebhookSecret(MASTER, 'tenant_b')).verify('{}', headers),
    ).toThrow();
  });
});
