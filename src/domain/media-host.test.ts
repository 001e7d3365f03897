import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.js';
import { MediaHost } from './media-host.js';
import type { TaskStore } from './task-store.js';

/** The two media calls a publish makes. */
const store = { putMedia: async () => {}, purgeMedia: async () => 0 } as unknown as TaskStore;

describe('MediaHost byte quota', () => {
  it('refuses a publish past the live-bytes quota (429) until older files expire', async () => {
    let now = 1_000_000;
    const host = new MediaHost({
      store,
      publicUrl: 'https://gw.example',
      ttlMs: 60_000,
      quotaBytes: 3000,
      now: () => now,
    });
    await host.publish(Buffer.alloc(1000), 'image/png', 'a');
    now += 10_000;
    await host.publish(Buffer.alloc(2000), 'image/png', 'a');
    const refused = await host.publish(Buffer.alloc(1), 'image/png', 'a').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatewayError);
    expect(refused).toMatchObject({ code: 'rate_limited', status: 429 });
    expect((refused as GatewayError).retryAfterMs).toBe(50_000);
    // The first file expires: its bytes count no more.
    now += 50_000;
    await expect(host.publish(Buffer.alloc(1000), 'image/png', 'a')).resolves.toMatch(/\/media\//);
  });

  it("refuses one tenant's publish past its own quota while another tenant still publishes", async () => {
    const host = new MediaHost({
      store,
      publicUrl: 'https://gw.example',
      quotaBytes: 10_000,
      tenantQuotaBytes: 3000,
    });
    await host.publish(Buffer.alloc(3000), 'image/png', 'a');
    await expect(host.publish(Buffer.alloc(1), 'image/png', 'a')).rejects.toMatchObject({
      code: 'rate_limited',
    });
    await expect(host.publish(Buffer.alloc(3000), 'image/png', 'b')).resolves.toMatch(/\/media\//);
  });
});
