import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Replicate, { type FileOutput } from 'replicate';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterEach, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load.js';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
} from '../../src/emulators/replicate/server.js';
import { UpstreamClient } from '../../src/providers/http-client.js';
import { ReplicateAdapter } from '../../src/providers/replicate/adapter.js';
import { KEY_A, KEY_B, findSecrets } from '../helpers/test-app.js';
import { PNG_SIGNATURE, R8_TOKEN, SD_REF } from './harness.js';
import { selfSignedCert } from '../helpers/self-signed-cert.js';

/**
 * The official client wraps only `https:` output URLs in FileOutput objects. Here the emulator
 * serves HTTPS with a throwaway certificate (as in its own test); genway's replicate adapter
 * and the client both trust it through an undici Agent, genway itself stays plain HTTP.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('run() returns FileOutput objects whose bytes are the PNGs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'genway-replicate-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const tls = selfSignedCert(dir);
  const agent = new Agent({ connect: { ca: tls.cert } });
  cleanups.push(() => agent.close());
  const emu: ReplicateEmulator = await startReplicateEmulator({
    tls,
    tokens: [R8_TOKEN],
    timeScale: 0.01,
  });
  cleanups.push(() => emu.close());
  expect(emu.baseUrl.startsWith('https://')).toBe(true);

  const base = loadConfig({
    GATEWAY_API_KEYS: `${KEY_A},${KEY_B}`,
    STORE_URL: 'memory:',
    // Outputs stay the upstream's https links (what the client wraps). With media storage on,
    // genway would try to copy them, fail on the throwaway certificate and retry for 15 s.
    MEDIA_STORE_URL: 'none',
    POLL_INTERVAL_MS: '20',
    POLL_MAX_INTERVAL_MS: '200',
  });
  const settings = {
    baseUrl: emu.baseUrl,
    credentials: [{ id: 'replicate-1', secret: R8_TOKEN }],
    emulated: true,
    models: [],
  };
  const config: Config = { ...base, providers: { replicate: settings }, useEmulators: false };
  const logs: string[] = [];
  const app = await buildApp(config, {
    logStream: new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString());
        done();
      },
    }),
    providers: new Map([
      [
        'replicate',
        {
          adapter: new ReplicateAdapter(
            settings,
            new UpstreamClient({ provider: 'replicate', timeoutMs: 30_000, dispatcher: agent }),
          ),
          credentials: settings.credentials,
          strategy: 'fewest-in-flight' as const,
          emulated: true,
        },
      ],
    ]),
  });
  cleanups.push(() => app.close());
  const address = await app.listen({ port: 0, host: '127.0.0.1' });

  const seen: string[] = [];
  const replicate = new Replicate({
    auth: KEY_A,
    baseUrl: `${address}/replicate/v1`,
    fetch: (async (input: string | URL, init?: object) => {
      const res = await undiciFetch(input, { ...init, dispatcher: agent });
      seen.push(JSON.stringify([...res.headers]));
      return res;
    }) as unknown as typeof fetch,
  });
  const output = (await replicate.run(SD_REF, {
    input: { prompt: 'an astronaut riding a horse on mars', num_outputs: 2 },
  })) as FileOutput[];
  expect(output).toHaveLength(2);
  for (const file of output) {
    expect(file.url().href.startsWith(`${emu.url}/media/`)).toBe(true);
    const bytes = Buffer.from(await (await file.blob()).arrayBuffer());
    expect(bytes.subarray(0, 8)).toEqual(PNG_SIGNATURE);
  }
  expect(findSecrets([...seen, ...logs], [R8_TOKEN, KEY_A, KEY_B])).toEqual([]);
});
