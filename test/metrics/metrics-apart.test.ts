import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTaskStore } from '../../src/store/index.js';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';

/** Issue 12 item 5: /metrics gauges cached between scrapes, and METRICS_PORT. */

const apps: TestApp[] = [];
afterEach(async () => {
  for (const t of apps.splice(0)) await t.close();
});

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

describe('/metrics store gauges', () => {
  it('are counted once per METRICS_CACHE_MS, not on every scrape', async () => {
    const store = createTaskStore('memory:');
    let counts = 0;
    const countByStatus = store.countByStatus!.bind(store);
    store.countByStatus = async () => {
      counts++;
      return countByStatus();
    };
    const t = await buildTestApp({ store, env: { METRICS_CACHE_MS: '15000' } });
    apps.push(t);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    // A scrape flood over HTTP: 50 scrapes, one scan.
    const scrapes = await Promise.all(
      Array.from({ length: 50 }, () => fetch(`${base}/metrics`).then((r) => r.text())),
    );
    expect(scrapes.every((s) => s.includes('genway_tasks'))).toBe(true);
    expect(counts).toBe(1);
  });
});

describe('METRICS_PORT', () => {
  it('serves /metrics on its own listener; the main port answers 404 there', async () => {
    const t = await buildTestApp({ env: { METRICS_PORT: '0', METRICS_TOKEN } });
    apps.push(t);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const main = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    // Started by the app's onListen hook, which listen() does not wait for.
    await expect.poll(() => t.app.metricsServer?.listening, { timeout: 3000 }).toBe(true);
    const apart = `http://127.0.0.1:${(t.app.metricsServer!.address() as AddressInfo).port}`;

    const onMain = await fetch(`${main}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(onMain.status).toBe(404);
    expect(onMain.headers.get('content-type')).toContain('application/problem+json');

    const open = await fetch(`${apart}/metrics`);
    expect(open.status).toBe(401);
    const scrape = await fetch(`${apart}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('genway_http_requests_total');
    // Nothing else lives there.
    expect((await fetch(`${apart}/v1/models`)).status).toBe(404);
  });
});
