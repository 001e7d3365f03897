import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
} from '../../src/emulators/replicate/server.js';
import { makePng } from '../../src/emulators/shared/png.js';
import { isModelslabOutputUrl } from '../../src/providers/modelslab/mapping.js';
import type { ReplicateSettings } from '../../src/providers/replicate/index.js';
import { startCallbackGateway, type CallbackGateway, type Json } from '../callbacks/harness.js';
import { auth } from '../helpers/test-app.js';
import { startSuite, type Suite } from '../modelslab/harness.js';

/**
 * Issue 12 item 8: output URLs an upstream answers are fetched (downloads through
 * `GET /v1/tasks/{id}/outputs/{i}`, copies into media storage) only from the provider's own
 * hosts, and never from an address genway does not call (loopback, private, link-local), even
 * on a host the configuration trusts. No test here opens a connection to such a host.
 */

const dir = mkdtempSync(join(tmpdir(), 'genway-output-hosts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const storage = (name: string) => ({
  MEDIA_STORE_URL: `file:${join(dir, name)}`,
  MEDIA_SIGNING_KEY: 'media-signing-key-for-output-host-tests-0123',
});

interface PublicOutput {
  url: string;
  stored?: boolean;
  store_error?: string;
}

describe('CDN hosts anyone can create are not ModelsLab output hosts', () => {
  // CloudFront distributions and public R2 buckets other than ModelsLab's own.
  const FOREIGN = [
    'https://d2attackerowned9.cloudfront.net/generations/a.png',
    'https://pub-0123456789abcdef0123456789abcdef.r2.dev/generations/b.png',
  ];
  let s: Suite;

  beforeAll(async () => {
    s = await startSuite({ app: { env: storage('modelslab') } });
    // Before any request: the adapter's own rule refuses them, so nothing below can look them up.
    for (const url of FOREIGN) expect(isModelslabOutputUrl(url, s.emu.url), url).toBe(false);
  });
  afterAll(() => s?.close());

  it('the task shows the links, not stored; the download is a 502 problem naming the host', async () => {
    s.emu.scriptNext({ outputs: FOREIGN });
    const created = await s.create('text-to-image', { model: 'modelslab', prompt: 'a kite' });
    expect(created.statusCode).toBe(201);
    const task = await s.waitDone(created.json<Json>().id as string);
    expect(task.status).toBe('succeeded');
    const outputs = task.outputs as PublicOutput[];
    expect(outputs.map((o) => o.url)).toEqual(FOREIGN);
    for (const output of outputs) {
      expect(output.stored).toBe(false);
      expect(output.store_error).toMatch(/not a host of modelslab; genway does not fetch it/);
    }

    for (const [index, url] of FOREIGN.entries()) {
      const res = await s.inject({
        method: 'GET',
        url: `/v1/tasks/${task.id as string}/outputs/${index}`,
        headers: auth(),
      });
      expect(res.statusCode).toBe(502);
      expect(res.headers['content-type']).toContain('application/problem+json');
      const problem = res.json<Json>();
      expect(problem).toMatchObject({ code: 'upstream_bad_response', status: 502 });
      expect(problem.detail).toContain(`points at ${new URL(url).host}`);
    }
    expect(s.leaks()).toEqual([]);
  });

  it("ModelsLab's own CDN host and the emulator's files still download", async () => {
    const created = await s.create('text-to-image', { model: 'modelslab', prompt: 'a kite' });
    const task = await s.waitDone(created.json<Json>().id as string);
    expect((task.outputs as PublicOutput[])[0]!.stored).toBe(true);
    const res = await s.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id as string}/outputs/0`,
      headers: auth(),
    });
    expect(res.statusCode).toBe(200);
    expect(isModelslabOutputUrl('https://d1okzptojspljx.cloudfront.net/g/a.png', s.emu.url)).toBe(
      true,
    );
  });
});

const TOKEN = 'r8_output_hosts_abuse_token_5e6f7a8b';
const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
const IMAGE = { model: `replicate/stability-ai/stable-diffusion:${SD}`, prompt: 'a red fox' };

/**
 * A sentinel server on 127.0.0.1, trusted for Replicate outputs by `output_hosts` (as
 * `localhost:<port>` and `127.0.0.1:<port>`), and a gateway whose OUTBOUND_ALLOWLIST is
 * `allowlist`. Tasks are finished by signed webhooks naming the output URL.
 */
function sentinelGateway(allowlist: string) {
  const ctx = {
    connections: 0,
    port: 0,
    gw: undefined as unknown as CallbackGateway,
    /** A task finished by a signed webhook whose prediction names `output`. */
    finishedWith: async (_output: string): Promise<Json> => ({}),
  };
  let sentinel: Server;
  let emu: ReplicateEmulator;

  beforeAll(async () => {
    sentinel = createServer((_req, res) => res.writeHead(200).end(makePng(8, 8, 3)));
    sentinel.on('connection', () => ctx.connections++);
    await new Promise<void>((r) => sentinel.listen(0, '127.0.0.1', r));
    ctx.port = (sentinel.address() as AddressInfo).port;
    // No polls advance the prediction: the signed webhook is Replicate's answer.
    emu = await startReplicateEmulator({ tokens: [TOKEN], timeScale: 0.01, pollsStarting: 1e6 });
    const replicate: ReplicateSettings = {
      baseUrl: emu.baseUrl,
      credentials: [{ id: 'replicate-1', secret: TOKEN }],
      emulated: false,
      models: [],
      webhookSecrets: [emu.webhookSecret],
      outputHosts: [`http://localhost:${ctx.port}`, `http://127.0.0.1:${ctx.port}`],
    };
    const env = { ...storage(`replicate-${allowlist || 'none'}`), OUTBOUND_ALLOWLIST: allowlist };
    const gw = await startCallbackGateway({ replicate }, env);
    ctx.gw = gw;
    ctx.finishedWith = async (output) => {
      const created = await gw.create('text-to-image', IMAGE);
      const id = String(created.id);
      const body = JSON.stringify({
        id: (await gw.record(id)).upstreamId!,
        version: SD,
        input: { prompt: 'a red fox' },
        output: [output],
        error: null,
        status: 'succeeded',
        created_at: new Date().toISOString(),
        urls: {},
      });
      const msgId = `msg_${randomBytes(8).toString('hex')}`;
      const at = new Date();
      const res = await gw.post(`/callbacks/replicate/${id}`, body, {
        'webhook-id': msgId,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': new Webhook(emu.webhookSecret).sign(msgId, at, body),
      });
      expect(res.status).toBe(200);
      return gw.waitTerminal(id, 20_000);
    };
  });
  afterAll(async () => {
    await ctx.gw?.close();
    await emu?.close();
    sentinel?.closeAllConnections();
    await new Promise((r) => sentinel?.close(r));
  });
  return ctx;
}

const download = (gw: CallbackGateway, task: Json) =>
  gw.t.app.inject({
    method: 'GET',
    url: `/v1/tasks/${task.id as string}/outputs/0`,
    headers: auth(),
  });

describe('a trusted output host at a loopback address is not fetched', () => {
  const ctx = sentinelGateway('');

  it.each(['localhost', '127.0.0.1'])(
    'output on http://%s:<port> (trusted by output_hosts): not stored, download 502, no connection',
    async (host) => {
      const url = `http://${host}:${ctx.port}/out.png`;
      const task = await ctx.finishedWith(url);
      expect(task.status).toBe('succeeded');
      const [output] = task.outputs as PublicOutput[];
      expect(output).toMatchObject({ url, stored: false });
      expect(output!.store_error).toMatch(/not a public address/);

      const res = await download(ctx.gw, task);
      expect(res.statusCode).toBe(502);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json<Json>()).toMatchObject({
        code: 'upstream_bad_response',
        detail: expect.stringMatching(/not a public address/) as unknown,
      });
      expect(ctx.connections).toBe(0);
    },
  );
});

describe('the same host named by OUTBOUND_ALLOWLIST is fetched (the sentinel answers)', () => {
  const ctx = sentinelGateway('localhost');

  it('output on http://localhost:<port>: stored, downloads', async () => {
    const task = await ctx.finishedWith(`http://localhost:${ctx.port}/out.png`);
    expect((task.outputs as PublicOutput[])[0]!.stored).toBe(true);
    expect((await download(ctx.gw, task)).statusCode).toBe(200);
    expect(ctx.connections).toBeGreaterThan(0);
  });
});
