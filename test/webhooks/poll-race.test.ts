import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { startSuite, type Json, type Suite } from '../modelslab/harness.js';
import { WEBHOOK_SECRET } from './receiver.js';

/**
 * A poll result written while the webhook dispatcher holds a claim on the same task (it bumps
 * the version) is not lost: only delivery bookkeeping changed in between, so the change is
 * applied on top of it, and the new delivery joins the pending one.
 */
describe('poll write racing a webhook claim', () => {
  let s: Suite;
  const store = new MemoryTaskStore();
  beforeAll(async () => {
    s = await startSuite({
      app: {
        env: { WEBHOOK_SECRET, OUTBOUND_ALLOWLIST: '127.0.0.1' },
        store,
        poller: false,
        webhooks: false,
      },
    });
  });
  afterAll(() => s.close());

  it('keeps both the poll result and the delivery state', async () => {
    s.emu.scriptNext({ processing: 0, eta: 0 });
    const res = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'x',
      webhook: { url: 'http://127.0.0.1:9/hook', events: ['task.running', 'task.succeeded'] },
    });
    const id = res.json<Json>().id as string;
    expect(res.json<Json>().status).toBe('running');

    const far = Date.now() + 3_600_000;
    const [claimed] = await store.claimDue(far, 10, 60_000);
    expect(claimed?.id).toBe(id);
    // The dispatcher claims the task (task.running is due) before the poll result is written.
    const [held] = await store.claimDueWebhooks(far, 10, 60_000);
    expect(held?.version).toBe(claimed!.version + 1);

    await s.app.tasks.poll(claimed!);
    const after = (await store.get(id))!;
    expect(after.status).toBe('succeeded');
    expect(after.version).toBe(held!.version + 1);
    expect(after.webhook!.deliveries.map((d) => [d.event, d.status])).toEqual([
      ['task.running', 'pending'],
      ['task.succeeded', 'pending'],
    ]);
    // Due now: the new delivery shortened the dispatcher's lease.
    expect(after.nextWebhookAt!).toBeLessThanOrEqual(Date.now());
    expect(after.nextPollAt).toBeNull();
  });
});
