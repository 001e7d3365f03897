import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EmulatorHandle, RecordedCall } from '../../../src/emulators/shared/types.js';

/** Acme's signature of a callback body: HMAC-SHA256 with the webhook secret, hex. */
export const acmeSignature = (secret: string, body: string) =>
  createHmac('sha256', secret).update(body).digest('hex');

export interface AcmeJob {
  id: string;
  status: 'running' | 'done';
  output?: string;
}

export interface AcmeEmulator extends EmulatorHandle {
  /** Each callback sent, with genway's answer. */
  readonly callbacks: { url: string; status: number; answer: string }[];
}

/**
 * A tiny fake upstream on loopback: `POST /v1/jobs` (Bearer key) starts a job that is done
 * after `finishAfterMs`; `GET /v1/jobs/{id}` reads it; a job created with a `callback_url`
 * is POSTed there, signed, when it is done.
 */
export async function startAcmeEmulator(options: {
  host?: string;
  apiKey: string;
  webhookSecret?: string;
  finishAfterMs?: number;
}): Promise<AcmeEmulator> {
  const jobs = new Map<string, AcmeJob>();
  const calls: RecordedCall[] = [];
  const callbacks: AcmeEmulator['callbacks'] = [];
  const pending = new Set<Promise<void>>();
  let seq = 0;
  let url = '';

  const callBack = async (target: string, job: AcmeJob) => {
    const body = JSON.stringify(job);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.webhookSecret)
      headers['x-acme-signature'] = acmeSignature(options.webhookSecret, body);
    const res = await fetch(target, { method: 'POST', headers, body });
    callbacks.push({ url: target, status: res.status, answer: await res.text() });
  };

  const server = createServer((req, res) => {
    void readJson(req).then((body) => {
      calls.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        at: Date.now(),
      });
      const answer = (status: number, json: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      if (req.headers.authorization !== `Bearer ${options.apiKey}`) {
        return answer(401, { error: 'bad key' });
      }
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (req.method === 'POST' && path === '/v1/jobs') {
        const job: AcmeJob = { id: `job_${++seq}`, status: 'running' };
        jobs.set(job.id, job);
        const { callback_url: target } = (body ?? {}) as { callback_url?: string };
        setTimeout(() => {
          Object.assign(job, { status: 'done', output: `${url}/files/${job.id}.png` });
          if (!target) return;
          const delivery = callBack(target, job).catch(() => undefined);
          pending.add(delivery);
          void delivery.finally(() => pending.delete(delivery));
        }, options.finishAfterMs ?? 50).unref();
        return answer(201, job);
      }
      const job = /^\/v1\/jobs\/([\w-]+)$/.exec(path)?.[1];
      if (req.method === 'GET' && job && jobs.has(job)) return answer(200, jobs.get(job));
      return answer(404, { error: 'not found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve));
  url = `http://${options.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    callbacks,
    close: async () => {
      await Promise.all(pending);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString();
  return text ? (JSON.parse(text) as unknown) : undefined;
}
