import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_A, buildTestApp, type TestApp } from '../helpers/test-app.js';

/** Issue 12 item 8: a `Host` no URL can carry is a 400 on /replicate/v1, never a 500. */

let t: TestApp;
let port: number;

beforeAll(async () => {
  t = await buildTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.server.address() as AddressInfo).port;
});
afterAll(() => t?.close());

/** One raw HTTP/1.1 request (fetch cannot send such a Host); resolves with the status line. */
function rawGet(path: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${KEY_A}\r\nconnection: close\r\n\r\n`,
      );
    });
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer')));
  });
}

describe('odd Host headers', () => {
  it.each(['a b', 'a/b', 'x"y', '[zz]'])(
    'Host: %s → 400 on prediction lists and reads',
    async (host) => {
      for (const path of ['/replicate/v1/predictions', '/replicate/v1/predictions/abc']) {
        const answer = await rawGet(path, host);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
        expect(status, `${host} ${path}`).toBeGreaterThanOrEqual(400);
        expect(status, `${host} ${path}`).toBeLessThan(500);
      }
    },
  );

  it('a valid Host still pages with an absolute next URL', async () => {
    const answer = await rawGet('/replicate/v1/predictions', `127.0.0.1:${port}`);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
  });
});
