import { Webhook } from 'standardwebhooks';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tenantIdForKey } from '../../src/config/load.js';
import { deriveTenantWebhookSecret } from '../../src/config/webhook-secrets.js';
import { KEY_A } from '../helpers/test-app.js';

/** The WEBHOOK_SECRET of the webhook tests (base64 after `whsec_`, as the config demands). */
export const WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/**
 * The signing secret of the tenant of gateway key `key`: each tenant signs with its own,
 * derived from WEBHOOK_SECRET (architecture §6), never with WEBHOOK_SECRET itself.
 */
export const tenantSecret = (key = KEY_A) =>
  deriveTenantWebhookSecret(WEBHOOK_SECRET, tenantIdForKey(key));

/** One request the receiver saw: headers and the raw body, exactly as sent. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/**
 * How the receiver answers one request: an HTTP status, a status with headers, `hang` (read
 * the request, never answer) or `drop` (read the request, then reset the connection).
 */
export type Answer =
  number | { status: number; headers?: Record<string, string> } | 'hang' | 'drop';

export interface Receiver {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly received: Received[];
  /** Answers for the next requests, first in first out; then `fallback`. */
  answerNext(...answers: Answer[]): void;
  /** The answer once the queue is empty (200 at first). */
  fallback: Answer;
  /** Resolves once `count` requests arrived in all, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1 (port 0): records every request and answers as scripted. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const queue: Answer[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      });
      for (const w of waiters) w();
      const answer = queue.shift() ?? receiver.fallback;
      if (answer === 'hang') return;
      if (answer === 'drop') {
        req.socket.destroy();
        return;
      }
      const { status, headers } = typeof answer === 'number' ? { status: answer } : answer;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}`,
    received,
    fallback: 200,
    answerNext: (...answers) => void queue.push(...answers),
    waitFor(count, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(received.slice());
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver got ${received.length} of ${count} requests`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}

/** Verifies one received request with the `standardwebhooks` library; returns the parsed body. */
export function verifyReceived(received: Received, secret = tenantSecret()): unknown {
  const header = (name: string) => String(received.headers[name] ?? '');
  return new Webhook(secret).verify(received.body, {
    'webhook-id': header('webhook-id'),
    'webhook-timestamp': header('webhook-timestamp'),
    'webhook-signature': header('webhook-signature'),
  });
}

export { until } from '../helpers/until.js';
