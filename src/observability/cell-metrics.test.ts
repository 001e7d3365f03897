import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CellCounter, CellHistogram } from './cell-metrics.js';

const BUCKETS = [0.005, 0.01, 0.1, 1, 10];
// On a bound, between bounds, past the last one, zero.
const OBSERVATIONS: [string, string, number][] = [
  ['/v1/tasks/:id', 'GET', 0.005],
  ['/v1/tasks/:id', 'GET', 0.0071],
  ['/v1/text-to-image', 'POST', 0.42],
  ['/v1/tasks/:id', 'GET', 12.5],
  ['unmatched', 'other', 0],
];

/** The same series written through prom-client's own classes and through the cells. */
function both() {
  const plain = new Registry();
  const cells = new Registry();
  const common = { name: 'demo_seconds', help: 'Demo', labelNames: ['route', 'method'] as const };
  const counted = { name: 'demo_total', help: 'Demo count', labelNames: ['route', 'status'] };
  const reference = {
    histogram: new Histogram({ ...common, buckets: BUCKETS, registers: [plain] }),
    counter: new Counter({ ...counted, registers: [plain] }),
  };
  const tested = {
    histogram: new CellHistogram({ ...common, buckets: BUCKETS, registers: [cells] }),
    counter: new CellCounter({ ...counted, registers: [cells] }),
  };
  return { plain, cells, reference, tested };
}

describe('cell metrics', () => {
  it("render exactly what prom-client's own counter and histogram render, text and JSON", async () => {
    const { plain, cells, reference, tested } = both();
    // A series created without events shows at 0, as prom-client's `inc(0)` makes it.
    reference.counter.labels('/v1/models', '200').inc(0);
    tested.counter.cell('/v1/models', '200');
    for (const [route, method, seconds] of OBSERVATIONS) {
      reference.histogram.labels(route, method).observe(seconds);
      tested.histogram.cell(route, method).observe(seconds);
      reference.counter.labels(route, '200').inc();
      tested.counter.cell(route, '200').inc();
    }
    tested.counter.cell('/v1/text-to-image', '200').inc(2);
    reference.counter.labels('/v1/text-to-image', '200').inc(2);

    const text = await cells.metrics();
    expect(text).toBe(await plain.metrics());
    expect(text).toContain('demo_seconds_bucket{le="0.005",route="/v1/tasks/:id",method="GET"} 1');
    expect(text).toContain('demo_seconds_bucket{le="+Inf",route="/v1/tasks/:id",method="GET"} 3');
    expect(text).toContain('demo_total{route="/v1/text-to-image",status="200"} 3');
    expect(await cells.getMetricsAsJSON()).toEqual(await plain.getMetricsAsJSON());
  });

  it('renders nothing before any series exists, and keeps reading a series after a scrape', async () => {
    const { plain, cells, reference, tested } = both();
    expect(await cells.metrics()).toBe(await plain.metrics());
    const hits = tested.histogram.cell('/v1/tasks/:id', 'GET');
    hits.observe(0.2);
    reference.histogram.labels('/v1/tasks/:id', 'GET').observe(0.2);
    await cells.metrics();
    hits.observe(0.3);
    reference.histogram.labels('/v1/tasks/:id', 'GET').observe(0.3);
    expect(await cells.metrics()).toBe(await plain.metrics());
  });

  it('refuses label values that do not match the label names', () => {
    const { tested } = both();
    expect(() => tested.counter.cell('/v1/models')).toThrow(/expected 2 label values, got 1/);
  });
});
