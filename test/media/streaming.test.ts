import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG_SIGNATURE } from '../../src/emulators/shared/png.js';
import { buildFakeApp, FakeAdapter, type FakeApp } from '../helpers/fake-provider.js';
import { auth } from '../helpers/test-app.js';
import type { PollCall, UpstreamSnapshot } from '../../src/domain/ports.js';
import { sha256, type StoredOutput } from './helpers.js';

const BIG_BYTES = 50 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 7);

/** A loopback "CDN": /big is 50 MB made on the fly, /dead never finishes, /small/N is tiny. */
let flaky = 0;

/** The /big route of the fake CDN as a separate node process on 127.0.0.1. */
async function startBigUpstreamProcess(): Promise<{ child: ChildProcess; origin: string }> {
  const script = `
    const http = require('node:http');
    const SIZE = ${BIG_BYTES};
    const chunk = Buffer.alloc(${CHUNK.length}, 7);
    const first = Buffer.concat([Buffer.from([${[...PNG_SIGNATURE].join(',')}]), chunk.subarray(${PNG_SIGNATURE.length})]);
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(SIZE) });
      let sent = 0;
      const pump = () => {
        while (sent < SIZE) {
          const part = sent === 0 ? first : chunk;
          sent += part.length;
          if (!res.write(part)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, origin: `http://127.0.0.1:${line.toString().trim()}` };
}

function startUpstream(): Promise<{ server: Server; origin: string }> {
  const pending = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    if (path === '/big') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(BIG_BYTES) });
      let sent = 0;
      const pump = () => {
        while (sent < BIG_BYTES) {
          const part =
            sent === 0
              ? Buffer.concat([PNG_SIGNATURE, CHUNK.subarray(PNG_SIGNATURE.length)])
              : CHUNK;
          sent += part.length;
          if (!res.write(part)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else if (path === '/dead') {
      // Headers and the first bytes, then silence: a stuck download.
      res.writeHead(200, { 'content-type': 'image/png' });
      res.write(PNG_SIGNATURE);
      pending.add(res);
    } else if (path.startsWith('/small/')) {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.concat([PNG_SIGNATURE, Buffer.from(path)]));
    } else if (path === '/flaky') {
      // Fails the first download (503), then serves the file.
      flaky++;
      if (flaky === 1) return void res.writeHead(503).end();
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.concat([PNG_SIGNATURE, Buffer.from('flaky')]));
    } else if (path === '/html') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end('<!doctype html><p>not an image</p>');
    } else {
      res.writeHead(404).end();
    }
  });
  server.on('close', () => pending.forEach((r) => r.destroy()));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, origin: `http://127.0.0.1:${port}` });
    }),
  );
}

describe('copies of outputs: streamed, bounded, never blocking other tasks', () => {
  let upstream: { server: Server; origin: string };
  let dir: string;
  let f: FakeApp;

  // Each create names its output path in the prompt; the fake provider "finishes" at once.
  const fakeAdapter = (origin = upstream.origin) =>
    new FakeAdapter({
      onStart: (call) => ({
        upstreamId: `up_${Math.random()}`,
        upstreamStatus: 'done',
        status: 'succeeded',
        outputs: [
          {
            url: `${origin}${call.input.prompt}`,
            contentType: 'image/png',
            expiresAt: null,
          },
        ],
      }),
      isOutputUrl: (url) => url.startsWith(origin),
    });

  beforeAll(async () => {
    upstream = await startUpstream();
    dir = await mkdtemp(join(tmpdir(), 'genway-media-stream-'));
    f = await buildFakeApp(fakeAdapter(), {
      env: {
        MEDIA_STORE_URL: `file:${dir}`,
        // The fake CDN is on loopback: the operator's allowlist lets output fetches reach it.
        OUTBOUND_ALLOWLIST: '127.0.0.1',
        MEDIA_COPY_CONCURRENCY: '2',
        MEDIA_COPY_TIMEOUT: '6s',
        MEDIA_COPY_ATTEMPTS: '1',
      },
    });
  });
  afterAll(async () => {
    await f?.close();
    upstream.server.closeAllConnections();
    await new Promise((resolve) => upstream.server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const create = async (path: string, app = f) => {
    const res = await app.app.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: auth(),
      payload: { model: 'fake', prompt: path },
    });
    expect(res.statusCode).toBe(201);
    return (res.json() as { id: string }).id;
  };
  const finished = async (id: string, timeoutMs = 20_000, app = f) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await app.app.inject({
        method: 'GET',
        url: `/v1/tasks/${id}?wait=1`,
        headers: auth(),
      });
      const task = res.json() as { status: string; outputs: StoredOutput[] };
      if (task.status === 'succeeded') return task;
      if (Date.now() > deadline) throw new Error(`task ${id} still ${task.status}`);
    }
  };

  it(
    'streams a 50 MB output into storage without holding it in memory',
    { timeout: 150_000 },
    async () => {
      // The 50 MB source runs in its own process, so this process's memory is the copy's alone.
      const bigUpstream = await startBigUpstreamProcess();
      // Its own app: a generous copy time limit (the samples' collections slow the copy down).
      const big = await buildFakeApp(fakeAdapter(bigUpstream.origin), {
        env: {
          MEDIA_STORE_URL: `file:${dir}`,
          // The fake CDN is on loopback: the operator's allowlist lets output fetches reach it.
          OUTBOUND_ALLOWLIST: '127.0.0.1',
          MEDIA_COPY_TIMEOUT: '120s',
        },
      });
      // A collection before each sample, so garbage not yet collected does not count as held.
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const live = () => {
        gc();
        const m = process.memoryUsage();
        return { rss: m.rss, held: m.heapUsed + m.arrayBuffers };
      };
      const baseline = live();
      let peak = baseline;
      const sampler = setInterval(() => {
        const now = live();
        peak = { rss: Math.max(peak.rss, now.rss), held: Math.max(peak.held, now.held) };
      }, 250);
      try {
        const id = await create('/big', big);
        const task = await finished(id, 120_000, big);
        const out = task.outputs[0]!;
        expect(out, out.store_error).toMatchObject({ stored: true, bytes: BIG_BYTES });
        expect((await stat(join(dir, 'tasks', id, '0'))).size).toBe(BIG_BYTES);
        // The same bytes, hashed here chunk by chunk as the server made them.
        const { createHash } = await import('node:crypto');
        const h = createHash('sha256');
        for (let sent = 0; sent < BIG_BYTES; sent += CHUNK.length) {
          h.update(
            sent === 0
              ? Buffer.concat([PNG_SIGNATURE, CHUNK.subarray(PNG_SIGNATURE.length)])
              : CHUNK,
          );
        }
        expect(out.sha256).toBe(h.digest('hex'));
      } finally {
        clearInterval(sampler);
        await big.close();
        bigUpstream.child.kill();
        await once(bigUpstream.child, 'exit');
      }
      // Held whole, the file alone would add 50 MB of live memory (twice that while a copy is
      // concatenated). Live memory after a collection is the strict bound (well under the
      // file, with room for the rest of the suite's work in this process: 1-18 MB seen); RSS also moves with
      // the allocator and the collections, so its bound only catches a file held (and copied).
      console.info(
        `50 MB copy: peak growth rss ${((peak.rss - baseline.rss) / 2 ** 20).toFixed(1)} MB, heap+buffers ${((peak.held - baseline.held) / 2 ** 20).toFixed(1)} MB`,
      );
      expect(peak.held - baseline.held).toBeLessThan(32 * 1024 * 1024);
      expect(peak.rss - baseline.rss).toBeLessThan(90 * 1024 * 1024);
    },
  );

  it('a dead upstream download holds only its own task: the others are stored meanwhile, then it keeps the upstream link', async () => {
    const dead = await create('/dead');
    const started = Date.now();
    const others = await Promise.all([1, 2, 3, 4, 5].map((n) => create(`/small/${n}`)));
    for (const id of others) {
      const task = await finished(id, 2500);
      expect(task.outputs[0]!.stored).toBe(true);
    }
    expect(Date.now() - started).toBeLessThan(2500);
    const stuck = await f.app.inject({ method: 'GET', url: `/v1/tasks/${dead}`, headers: auth() });
    expect((stuck.json() as { status: string }).status).toBe('running');

    // After MEDIA_COPY_TIMEOUT (6 s), with one attempt allowed: succeeded with the upstream link.
    const task = await finished(dead, 10_000);
    expect(task.outputs[0]).toMatchObject({ url: `${upstream.origin}/dead`, stored: false });
    expect(task.outputs[0]!.store_error).toMatch(/longer than 6000 ms/);
  });

  it('a transient copy failure keeps the task running, re-polls and copies again', async () => {
    // Polls of this provider answer "succeeded" again with the same output link.
    class Repolled extends FakeAdapter {
      override async poll(call: PollCall): Promise<UpstreamSnapshot> {
        const url = `${upstream.origin}/flaky`;
        return {
          upstreamId: call.upstreamId,
          upstreamStatus: 'done',
          status: 'succeeded',
          outputs: [{ url, contentType: 'image/png', expiresAt: null }],
        };
      }
    }
    const adapter = new Repolled({
      onStart: () => ({ upstreamId: 'up_flaky', upstreamStatus: 'running', status: 'running' }),
      isOutputUrl: (url) => url.startsWith(upstream.origin),
    });
    const app = await buildFakeApp(adapter, {
      env: {
        MEDIA_STORE_URL: `file:${dir}`,
        // The fake CDN is on loopback: the operator's allowlist lets output fetches reach it.
        OUTBOUND_ALLOWLIST: '127.0.0.1',
        POLL_INTERVAL_MS: '50',
      },
      poller: true,
    });
    try {
      const id = await create('/flaky', app);
      const task = await finished(id, 15_000, app);
      expect(flaky).toBe(2);
      expect(task.outputs[0]).toMatchObject({ stored: true, content_type: 'image/png' });
      const metrics = await app.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/genway_media_copies_total\{outcome="retry"\} 1/);
    } finally {
      await app.close();
    }
  });

  it('refuses to store what is not a media file (magic bytes), keeping the upstream link', async () => {
    const task = await finished(await create('/html'));
    expect(task.outputs[0]).toMatchObject({ url: `${upstream.origin}/html`, stored: false });
    expect(task.outputs[0]!.store_error).toMatch(/not an image, video or audio/);
  });

  it('stored bytes match their recorded hash', async () => {
    const id = await create('/small/hash');
    const task = await finished(id);
    const res = await f.app.inject({
      method: 'GET',
      url: `/v1/tasks/${id}/outputs/0`,
      headers: auth(),
    });
    expect(sha256(res.rawPayload)).toBe(task.outputs[0]!.sha256);
  });
});
