import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePng } from '../../src/emulators/shared/png.js';
import {
  startPixverseEmulator,
  type PixverseEmulator,
} from '../../src/emulators/pixverse/server.js';
import { createTaskStore } from '../../src/store/index.js';
import { KEY_A, KEY_B, buildTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Issue 12 item 1 / issue 11 item 8: multipart bodies over HTTP on loopback. A flood of
 * oversized bodies is answered 413 with bounded memory while another tenant is served, and
 * an image file part on /v1/image-to-video reaches PixVerse's upload.
 */

let emu: PixverseEmulator;
let t: TestApp;
let base: string;

beforeAll(async () => {
  emu = await startPixverseEmulator();
  t = await buildTestApp({
    providers: {
      pixverse: {
        baseUrl: emu.baseUrl,
        credentials: [{ id: 'pixverse-1', secret: 'pixverse-emulator-key' }],
        emulated: false,
      },
    },
    store: createTaskStore('memory:'),
  });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await t?.close();
  await emu?.close();
});

const BOUNDARY = '----genwayflood7d1c';
const fieldPart = (name: string, value: string) =>
  `--${BOUNDARY}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const fileHead = (name: string) =>
  `--${BOUNDARY}\r\ncontent-disposition: form-data; name="${name}"; filename="a.png"\r\ncontent-type: image/png\r\n\r\n`;
const CLOSE = `\r\n--${BOUNDARY}--\r\n`;

interface Sent {
  status: number;
  body: string;
  contentType: string;
  /** Bytes the client managed to write before the answer came (or the socket closed). */
  written: number;
}

/**
 * POSTs a multipart body: `head`, then `fillBytes` of filler (1 MB chunks, as fast as the socket
 * takes them), then `tail`. Chunked unless `declare` is given (then sent as Content-Length).
 * Stops writing once the answer arrives.
 */
function sendMultipart(
  path: string,
  key: string,
  parts: { head: string; fillBytes: number; tail: string; declare?: number },
): Promise<Sent> {
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${key}`,
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
    };
    if (parts.declare !== undefined) headers['content-length'] = parts.declare;
    const req = httpRequest(`${base}${path}`, { method: 'POST', headers });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        // An attacker would hold the connection; this client lets it go.
        req.destroy();
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          contentType: String(res.headers['content-type']),
          written,
        });
      });
      res.on('error', reject);
    });
    // Writing after the server answered and closed: the answer already counts.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const write = async () => {
      req.write(parts.head);
      let left = parts.fillBytes;
      while (left > 0 && !answered && !req.destroyed) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        written += piece.length;
        if (!req.write(piece)) {
          await new Promise<void>((r) => {
            const done = () => {
              req.off('drain', done);
              req.off('close', done);
              r();
            };
            req.once('drain', done);
            req.once('close', done);
          });
        }
      }
      if (!answered && !req.destroyed) req.end(parts.tail);
    };
    void write();
  });
}

describe('a flood of oversized multipart bodies', () => {
  it('answers 413 to each, keeps RSS bounded, and serves the other tenant meanwhile', async () => {
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);

    const MB = 1024 * 1024;
    const flood: Promise<Sent>[] = [];
    for (let i = 0; i < 20; i++) {
      const kind = i % 4;
      if (kind === 0) {
        // A 60 MB file part, streamed chunked: stopped by the count on the stream.
        flood.push(
          sendMultipart('/openai/v1/videos', KEY_A, {
            head: fieldPart('prompt', 'x') + fileHead('input_reference'),
            fillBytes: 60 * MB,
            tail: CLOSE,
          }),
        );
      } else if (kind === 1) {
        // The same on /v1/image-to-video (its cap is 10 MB).
        flood.push(
          sendMultipart('/v1/image-to-video', KEY_A, {
            head: fieldPart('model', 'pixverse/v5') + fileHead('image'),
            fillBytes: 40 * MB,
            tail: CLOSE,
          }),
        );
      } else if (kind === 2) {
        // A 2 MB "prompt": a text field far over its 10,000 characters.
        flood.push(
          sendMultipart('/v1/image-to-video', KEY_A, {
            head: `--${BOUNDARY}\r\ncontent-disposition: form-data; name="prompt"\r\n\r\n`,
            fillBytes: 2 * MB,
            tail: `\r\n${fieldPart('model', 'pixverse/v5')}--${BOUNDARY}--\r\n`,
          }),
        );
      } else {
        // A declared 500 MB body: refused before a byte of it is read.
        flood.push(
          sendMultipart('/openai/v1/videos', KEY_A, {
            head: fieldPart('prompt', 'x'),
            fillBytes: 4 * MB,
            tail: CLOSE,
            declare: 500 * MB,
          }),
        );
      }
    }

    // Tenant B, during the flood: an ordinary JSON create and read.
    const started = Date.now();
    const other = await fetch(`${base}/v1/image-to-video`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_B}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'pixverse/v5',
        image: `data:image/png;base64,${makePng(32, 32).toString('base64')}`,
        prompt: 'served meanwhile',
      }),
    });
    const otherMs = Date.now() - started;
    expect(other.status).toBe(201);

    const answers = await Promise.all(flood);
    clearInterval(sampler);
    for (const [i, a] of answers.entries()) {
      expect(a.status, `request ${i}`).toBe(413);
      if (i % 4 === 0 || i % 4 === 3) {
        // The OpenAI error envelope on /openai/v1...
        expect(JSON.parse(a.body)).toMatchObject({
          error: { type: 'invalid_request_error', code: 'payload_too_large' },
        });
      } else {
        // ...problem+json on /v1.
        expect(a.contentType).toContain('application/problem+json');
        expect(JSON.parse(a.body)).toMatchObject({ status: 413, code: 'payload_too_large' });
      }
    }
    // The stream count stopped each streamed body long before its end.
    expect(answers[0]!.written).toBeLessThan(60 * MB);
    expect(answers[1]!.written).toBeLessThan(40 * MB);

    // 20 requests carrying ~600 MB between them: the process held a bounded part of it.
    expect(peak - rssBefore).toBeLessThan(400 * MB);
    expect(otherMs).toBeLessThan(5000);
    // Alive and serving.
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBeLessThan(500);
  }, 60_000);
});

describe('multipart on /v1/image-to-video', () => {
  it('takes an image file part (with form fields) and uploads it to PixVerse', async () => {
    const png = makePng(48, 32, 3);
    const form = new FormData();
    form.append('model', 'pixverse/v5');
    form.append('prompt', 'the colours drift');
    form.append('duration', '5');
    form.append('metadata[order]', '42');
    form.append('image', new Blob([png], { type: 'image/png' }), 'cat.png');
    const res = await fetch(`${base}/v1/image-to-video`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}` },
      body: form,
    });
    expect(res.status).toBe(201);
    const task = (await res.json()) as Record<string, unknown>;
    expect(task).toMatchObject({ type: 'image-to-video', metadata: { order: '42' } });
    const upload = emu.calls.filter((c) => c.path.endsWith('/image/upload')).at(-1);
    expect(upload).toBeDefined();
    const generate = emu.calls.filter((c) => c.path.endsWith('/video/img/generate')).at(-1);
    expect(generate?.body).toMatchObject({ prompt: 'the colours drift', duration: 5 });
  });

  it('takes a 6 MB data: image in a JSON body (the route raises its body limit)', async () => {
    const png = makePng(1500, 1000, 7);
    const padded = Buffer.concat([png, Buffer.alloc(6 * 1024 * 1024 - png.length)]);
    const uploads = emu.calls.filter((c) => c.path.endsWith('/image/upload')).length;
    const res = await fetch(`${base}/v1/image-to-video`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'pixverse/v5',
        image: `data:image/png;base64,${padded.toString('base64')}`,
        prompt: 'a big still',
      }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(emu.calls.filter((c) => c.path.endsWith('/image/upload')).length).toBe(uploads + 1);
  });

  it('refuses multipart on routes that take JSON only (415), and a file under a text field', async () => {
    const form = new FormData();
    form.append('model', 'pixverse/v5');
    form.append('prompt', 'x');
    const json = await fetch(`${base}/v1/text-to-video`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}` },
      body: form,
    });
    expect(json.status).toBe(415);
    const wrong = new FormData();
    wrong.append('model', new Blob([makePng(8, 8)], { type: 'image/png' }), 'm.png');
    const res = await fetch(`${base}/v1/image-to-video`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}` },
      body: wrong,
    });
    expect(res.status).toBe(400);
  });

  it('answers 400, not 500, to a deeply nested JSON field with an Idempotency-Key', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const body =
      fieldPart('prompt', 'x') +
      `--${BOUNDARY}\r\ncontent-disposition: form-data; name="provider_options"\r\ncontent-type: application/json\r\n\r\n${deep}\r\n` +
      `--${BOUNDARY}--\r\n`;
    for (const path of ['/openai/v1/videos', '/v1/image-to-video']) {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${KEY_A}`,
          'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
          'idempotency-key': `deep-${path}`,
        },
        body,
      });
      // provider_options is a small field (4 KB): 10,000 brackets are over it, or too deep.
      expect([400, 413]).toContain(res.status);
    }
    const shallow = '['.repeat(1000) + ']'.repeat(1000);
    const res = await fetch(`${base}/openai/v1/videos`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${KEY_A}`,
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'idempotency-key': 'deep-1000',
      },
      body:
        fieldPart('prompt', 'x') +
        `--${BOUNDARY}\r\ncontent-disposition: form-data; name="provider_options"\r\ncontent-type: application/json\r\n\r\n${shallow}\r\n` +
        `--${BOUNDARY}--\r\n`,
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('nested');
  });
});
