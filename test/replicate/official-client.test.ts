import Replicate, { type Page, type Prediction } from 'replicate';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_A } from '../helpers/test-app.js';
import {
  LAYOUTS,
  PNG_SIGNATURE,
  SD,
  SD_REF,
  callsTo,
  startReplicateSuite,
  type ReplicateSuite,
  type ReplicateSuiteOptions,
} from './harness.js';

/**
 * The official `replicate` npm client (1.4.0) against genway's `/replicate/v1`, genway listening
 * on a loopback port and backed by a Replicate emulator in the official (`/v1`) or the relay
 * (`/replicate/v1`) layout. The emulator serves plain HTTP here, so outputs are asserted as URL
 * strings (`useFileOutput: false`); https-served FileOutput objects are covered by
 * official-client-https.test.ts.
 */

let suite: ReplicateSuite | undefined;
afterEach(async () => {
  await suite?.close();
  suite = undefined;
});

interface Harness {
  s: ReplicateSuite;
  replicate: Replicate;
  base: string;
  /** Every response the client received (headers and body), for the secret scan. */
  seen: string[];
}

async function start(prefix: string, opts: ReplicateSuiteOptions = {}): Promise<Harness> {
  suite = await startReplicateSuite({ prefix, ...opts });
  const address = await suite.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `${address}/replicate/v1`;
  const seen: string[] = [];
  const replicate = new Replicate({
    auth: KEY_A,
    baseUrl: base,
    useFileOutput: false,
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await fetch(input, init);
      seen.push(JSON.stringify([...res.headers]), await res.clone().text());
      return res;
    }) as typeof fetch,
  });
  return { s: suite, replicate, base, seen };
}

async function expectPng(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(Buffer.from(await res.arrayBuffer()).subarray(0, 8)).toEqual(PNG_SIGNATURE);
}

describe.each(LAYOUTS)('official replicate client → genway → emulator at %s', (prefix) => {
  it('run() with a version ref and with a model ref returns the outputs', async () => {
    const { s, replicate, seen, base } = await start(prefix);

    const output = (await replicate.run(SD_REF, {
      input: { prompt: 'an astronaut riding a horse on mars', num_outputs: 2 },
    })) as string[];
    expect(output).toHaveLength(2);
    for (const url of output) {
      expect(url.startsWith(`${s.emu.url}/media/`)).toBe(true);
      await expectPng(url);
    }
    // The client sent only the hash; genway passed it on with the input as it was.
    const create = callsTo(s.emu, 'POST', /\/predictions$/)[0];
    expect(create?.body).toEqual({
      version: SD,
      input: { prompt: 'an astronaut riding a horse on mars', num_outputs: 2 },
    });

    const flux = (await replicate.run('black-forest-labs/flux-schnell', {
      input: { prompt: 'a fox' },
    })) as string[];
    expect(flux).toHaveLength(1);
    await expectPng(flux[0]!);
    expect(
      callsTo(s.emu, 'POST', /\/models\/black-forest-labs\/flux-schnell\/predictions$/),
    ).toHaveLength(1);

    // A video model answers one URL, and so does genway.
    const video = await replicate.run('minimax/video-01', { input: { prompt: 'waves' } });
    expect(typeof video).toBe('string');
    expect(video as unknown as string).toMatch(/\.mp4$/);

    // Polling mode (no Prefer header) works the same.
    const polled = (await replicate.run(SD_REF, {
      input: { prompt: 'x' },
      wait: { mode: 'poll', interval: 20 },
    })) as string[];
    expect(polled).toHaveLength(1);

    expect(seen.join('\n')).not.toContain(s.emu.baseUrl);
    expect(seen.join('\n')).toContain(base);
    expect(s.leaks()).toEqual([]);
    expect(seen.filter((t) => t.includes('r8_'))).toEqual([]);
  });

  it('predictions.create + wait, predictions.get', async () => {
    const { s, replicate, base } = await start(prefix);
    const created = await replicate.predictions.create({ version: SD, input: { prompt: 'x' } });
    expect(created.status).toBe('starting');
    expect(created.id).toMatch(/^task_[0-9A-Z]{26}$/);
    expect(created.urls).toMatchObject({
      get: `${base}/predictions/${created.id}`,
      cancel: `${base}/predictions/${created.id}/cancel`,
    });
    expect(created).toMatchObject({
      model: 'stability-ai/stable-diffusion',
      version: SD,
      input: { prompt: 'x' },
      output: null,
      error: null,
      source: 'api',
      data_removed: false,
    });

    const done = await replicate.wait(created, { interval: 20 });
    expect(done.status).toBe('succeeded');
    expect(done.output).toHaveLength(1);
    expect(done.completed_at).not.toBeNull();
    expect(done.metrics?.predict_time).toBeGreaterThanOrEqual(0);

    const got = await replicate.predictions.get(created.id);
    expect(got).toMatchObject({ id: created.id, status: 'succeeded', output: done.output });
    expect(s.leaks()).toEqual([]);
  });

  it('predictions.create with Prefer: wait=N answers `starting` when not done in time', async () => {
    const { replicate } = await start(prefix, { emulator: { pollsStarting: 1_000_000 } });
    const created = await replicate.predictions.create({
      version: SD,
      input: { prompt: 'x' },
      wait: 1,
    });
    expect(created.status).toBe('starting');
    const got = await replicate.predictions.get(created.id);
    expect(['starting', 'processing']).toContain(got.status);
  });

  it('predictions.cancel cancels upstream; canceling again answers it unchanged', async () => {
    const { s, replicate } = await start(prefix, { emulator: { pollsStarting: 1_000_000 } });
    const created = await replicate.predictions.create({ version: SD, input: { prompt: 'x' } });
    const canceled = await replicate.predictions.cancel(created.id);
    expect(canceled).toMatchObject({ id: created.id, status: 'canceled' });
    expect(callsTo(s.emu, 'POST', /\/cancel$/)).toHaveLength(1);
    const again = await replicate.predictions.cancel(created.id);
    expect(again.status).toBe('canceled');
    expect(callsTo(s.emu, 'POST', /\/cancel$/)).toHaveLength(1);

    // An aborted run() cancels its prediction through genway too.
    const controller = new AbortController();
    const running = replicate.run(SD_REF, {
      input: { prompt: 'y' },
      wait: { mode: 'poll', interval: 20 },
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 100);
    await running;
    expect(callsTo(s.emu, 'POST', /\/cancel$/)).toHaveLength(2);
  });

  it('predictions.list pages through `next` (absolute URLs), with paginate and by hand', async () => {
    const { s, replicate, base } = await start(prefix, { app: { poller: false } });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await replicate.predictions.create({ version: SD, input: { prompt: `p${i}` } })).id,
      );
    }
    const newestFirst = [...ids].reverse();

    // Replicate's page size (100): one page.
    const all = await replicate.predictions.list();
    expect(all.results.map((p) => p.id)).toEqual(newestFirst);
    expect(all.next).toBeNull();

    // Small pages (genway's page_size extension) followed by paginate().
    const firstPage = () =>
      replicate
        .request('/predictions', { method: 'GET', params: { page_size: '2' } })
        .then((r) => r.json() as Promise<Page<Prediction>>);
    const pages: string[][] = [];
    for await (const page of replicate.paginate(firstPage)) {
      pages.push(page.map((p) => p.id));
    }
    expect(pages).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);

    // `next` by hand: an absolute URL on genway, never on the upstream.
    const page1 = await firstPage();
    expect(page1.previous).toBeNull();
    const next = page1.next ?? '';
    expect(next.startsWith(`${base}/predictions?`)).toBe(true);
    const page2 = (await (
      await replicate.request(next, { method: 'GET' })
    ).json()) as Page<Prediction>;
    expect(page2.results.map((p) => p.id)).toEqual(newestFirst.slice(2, 4));
    expect(s.emu.calls.filter((c) => c.method === 'GET')).toHaveLength(0);
  });

  it('a failed prediction surfaces as the client’s error; an upstream 422 as ApiError', async () => {
    const { s, replicate } = await start(prefix);
    s.emu.scriptNext({ failWith: 'NSFW content detected. Try running it again.' });
    await expect(replicate.run(SD_REF, { input: { prompt: 'x' } })).rejects.toThrow(
      'Prediction failed: NSFW content detected. Try running it again.',
    );

    s.emu.scriptNext({ failWith: 'boom' });
    const created = await replicate.predictions.create({ version: SD, input: { prompt: 'x' } });
    await expect(replicate.wait(created, { interval: 20 })).rejects.toThrow(
      'Prediction failed: boom',
    );
    const failed = await replicate.predictions.get(created.id);
    expect(failed).toMatchObject({ status: 'failed', error: 'boom', output: null });

    const unknown = `stability-ai/stable-diffusion:${'0'.repeat(64)}` as const;
    const err = (await replicate
      .run(unknown, { input: { prompt: 'x' } })
      .catch((e: unknown) => e)) as {
      message: string;
      response?: Response;
    };
    expect(err.response?.status).toBe(422);
    expect(err.message).toContain('The specified version does not exist');
    expect(s.leaks()).toEqual([]);
  });
});
