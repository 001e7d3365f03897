import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamClient } from '../../src/providers/http-client.js';

/** Answers bounded by maxBodyBytes, whether they declare their length or are chunked. */
const big = JSON.stringify({ pad: 'x'.repeat(2000) });
let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/chunked') {
      res.write(big.slice(0, 1000));
      res.end(big.slice(1000));
    } else {
      res.end(req.url === '/small' ? '{"ok":true}' : big);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('upstream answer size', () => {
  const client = new UpstreamClient({ provider: 'fakeprov', timeoutMs: 5000, maxBodyBytes: 1024 });
  afterAll(() => client.close());

  it('reads an answer within the bound', async () => {
    const res = await client.send(`${base}/small`, { method: 'GET' });
    expect(res).toMatchObject({ status: 200, json: { ok: true } });
  });

  it.each(['/declared', '/chunked'])('refuses a bigger answer (%s)', async (path) => {
    await expect(client.send(`${base}${path}`, { method: 'GET' })).rejects.toMatchObject({
      code: 'upstream_bad_response',
      retryable: true,
    });
  });
});
