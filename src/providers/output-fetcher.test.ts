import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.js';
import { createAddressPolicy } from '../net/address-policy.js';
import { UndiciOutputFetcher } from './output-fetcher.js';

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((_req, res) => res.end('file'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('UndiciOutputFetcher address check', () => {
  it('refuses hosts that are or resolve to a loopback address, except configured origins', async () => {
    const fetcher = new UndiciOutputFetcher({
      addressPolicy: createAddressPolicy([]),
      exemptOrigins: [`http://127.0.0.1:${port}`],
    });
    try {
      // A name (looked up), a literal IP (never looked up), both loopback, and another port
      // of the configured origin's host (only that exact origin is the operator's).
      for (const url of [
        `http://localhost:${port}/a.png`,
        `http://[::1]:${port}/a.png`,
        `http://127.0.0.1:${port === 65535 ? 1 : port + 1}/a.png`,
      ]) {
        const err = await fetcher.fetch({ url, method: 'GET', headers: {} }).catch((e) => e);
        expect(err, url).toBeInstanceOf(GatewayError);
        expect(err).toMatchObject({ code: 'upstream_bad_response' });
      }
      // The configured origin (an emulator on loopback) is reached.
      const ok = await fetcher.fetch({
        url: `http://127.0.0.1:${port}/a.png`,
        method: 'GET',
        headers: {},
      });
      expect(ok.status).toBe(200);
      ok.body.resume();
    } finally {
      await fetcher.close();
    }
  });
});
