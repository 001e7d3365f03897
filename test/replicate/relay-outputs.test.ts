import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_A, auth } from '../helpers/test-app.js';
import { PNG_SIGNATURE, SD_REF, startReplicateSuite, type ReplicateSuite } from './harness.js';

/**
 * Architecture §6, relay layout: with REPLICATE_BASE_URL at a relay's `.../replicate/v1`, output
 * URLs on that relay's own origin download through `GET /v1/tasks/{id}/outputs/{i}` (the
 * operator configured that host), even though it is not the built-in emulator.
 */

let suite: ReplicateSuite | undefined;
afterEach(async () => {
  await suite?.close();
  suite = undefined;
});

describe('replicate relay outputs', () => {
  it("a relay-layout task's output (on the relay's origin) downloads through genway", async () => {
    suite = await startReplicateSuite({ prefix: '/replicate/v1', settings: { emulated: false } });
    const res = await suite.create('text-to-image', { model: `replicate/${SD_REF}`, prompt: 'x' });
    expect(res.statusCode).toBe(201);
    const task = await suite.waitDone(res.json<{ id: string }>().id);
    expect(task.status).toBe('succeeded');
    const [output] = task.outputs as { url: string }[];
    expect(output!.url.startsWith(`${suite.emu.url}/media/`)).toBe(true);

    const file = await suite.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id as string}/outputs/0`,
      headers: auth(KEY_A),
    });
    expect(file.statusCode).toBe(200);
    expect(file.rawPayload.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(suite.leaks()).toEqual([]);
  });

  it('takes extra trusted output hosts from the configuration file, and checks them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'genway-output-hosts-'));
    const file = join(dir, 'gateway.yaml');
    const env = (hosts: string[]) => {
      writeFileSync(
        file,
        JSON.stringify({
          providers: {
            replicate: {
              credentials: [{ id: 'r1', secret: 'r8_output_hosts_token_0123' }],
              output_hosts: hosts,
            },
          },
        }),
      );
      return { GATEWAY_API_KEYS: KEY_A, GATEWAY_CONFIG: file, STORE_URL: 'memory:' };
    };
    const config = loadConfig(env(['files.relay.example', 'http://10.1.2.3:9000']));
    expect(config.providers.replicate?.outputHosts).toEqual([
      'files.relay.example',
      'http://10.1.2.3:9000',
    ]);
    expect(() => loadConfig(env(['https://x.example/path']))).toThrow(/output_hosts/);
  });
});
