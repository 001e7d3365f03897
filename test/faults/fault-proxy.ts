import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A loopback HTTP proxy between genway and an emulator that injects transport faults the
 * emulators have no hook for. Answers are forwarded with the emulator's origin rewritten to
 * the proxy's (JSON and text only), so follow-up URLs (fetch_result, output links) come back
 * through the proxy too and can be faulted as well.
 */

export type Fault =
  /** Answer this status without forwarding (the emulator never sees the request). */
  | {
      kind: 'status';
      status: number;
      headers?: Record<string, string>;
      body?: string;
      contentType?: string;
    }
  /** RST the client connection as soon as the request arrives; nothing is forwarded. */
  | { kind: 'reset-before' }
  /** Forward, wait for the emulator's whole answer, then RST the client connection. */
  | { kind: 'reset-after' }
  /** Forward, then send the headers and half the body and hold the connection open. */
  | { kind: 'hang' }
  /** Forward, then answer 200 with a truncated, unparseable JSON body. */
  | { kind: 'malformed' }
  /** Forward, then stream `bytes` (default 40 MB) of JSON-looking garbage, honouring backpressure. */
  | { kind: 'huge'; bytes?: number };

export type FaultKind = Fault['kind'];

export interface FaultRule {
  method?: string;
  /** Tested against the path and query. */
  path: RegExp;
}

export interface ProxiedCall {
  method: string;
  path: string;
  /** The fault injected, if any. */
  fault?: FaultKind;
  /** Whether the request reached the emulator. */
  forwarded: boolean;
  /** When the request arrived (epoch ms). */
  at: number;
}

export interface FaultProxy {
  readonly url: string;
  readonly calls: ProxiedCall[];
  /** Bytes of the last `huge` body that were written before the client hung up (or all). */
  readonly hugeBytesSent: number;
  /** Injects `fault` into the next request matching `rule` (once). */
  arm(rule: FaultRule, fault: Fault): void;
  /** Armed faults not used yet. */
  pending(): number;
  /** Drops unused faults and calls, and releases held connections. */
  reset(): void;
  /** The emulator URL behind a proxied URL (for emulator hooks keyed by their own URLs). */
  toTarget(url: string): string;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'host',
  'upgrade',
]);

function forwardHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const isText = (type: string | undefined) => !!type && /json|text/i.test(type);

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const targetOrigin = new URL(target).origin;
  const targetUrl = new URL(targetOrigin);
  const agent = new Agent({ keepAlive: true });
  const armed: { rule: FaultRule; fault: Fault }[] = [];
  const calls: ProxiedCall[] = [];
  const held = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let hugeBytesSent = 0;
  let self = '';

  const take = (method: string, path: string): Fault | undefined => {
    const at = armed.findIndex(
      ({ rule }) => (!rule.method || rule.method === method) && rule.path.test(path),
    );
    if (at === -1) return undefined;
    const [hit] = armed.splice(at, 1);
    return hit?.fault;
  };

  /** The emulator's answer, with its origin rewritten to ours in text bodies. */
  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }>(
      (resolve, reject) => {
        const up = httpRequest(
          {
            host: targetUrl.hostname,
            port: targetUrl.port,
            path: req.url,
            method: req.method,
            agent,
            headers: { ...forwardHeaders(req.headers), 'content-length': String(body.length) },
          },
          (res) => {
            readAll(res).then((raw) => {
              const headers = forwardHeaders(res.headers);
              const text = isText(res.headers['content-type']);
              const out = text
                ? Buffer.from(raw.toString('utf8').split(targetOrigin).join(self))
                : raw;
              resolve({ status: res.statusCode ?? 502, headers, body: out });
            }, reject);
          },
        );
        up.on('error', reject);
        up.end(body);
      },
    );

  const streamHuge = (res: ServerResponse, total: number) => {
    hugeBytesSent = 0;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"garbage":"');
    const pump = () => {
      while (hugeBytesSent < total && !res.destroyed) {
        hugeBytesSent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end('"}');
    };
    pump();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const fault = take(method, path);
    const call: ProxiedCall = {
      method,
      path,
      forwarded: false,
      at: Date.now(),
      ...(fault ? { fault: fault.kind } : {}),
    };
    calls.push(call);
    if (fault?.kind === 'reset-before') {
      req.socket.resetAndDestroy();
      return;
    }
    const body = await readAll(req);
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, {
        'content-type': fault.contentType ?? 'application/json',
        ...fault.headers,
      });
      res.end(fault.body ?? '{"error":"injected fault"}');
      return;
    }
    call.forwarded = true;
    const answer = await forward(req, body);
    switch (fault?.kind) {
      case 'reset-after':
        req.socket.resetAndDestroy();
        return;
      case 'hang':
        res.writeHead(answer.status, {
          ...answer.headers,
          'content-length': String(answer.body.length),
        });
        res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)));
        held.add(res);
        return;
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"success","id":1,"output":["http://');
        return;
      case 'huge':
        streamHuge(res, fault.bytes ?? 40 * 1024 * 1024);
        return;
      default:
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('fault proxy: the emulator could not be reached');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // Writes to a client that hung up (huge bodies) must not surface as unhandled errors.
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const release = () => {
    for (const res of held) res.destroy();
    held.clear();
  };

  return {
    url: self,
    calls,
    get hugeBytesSent() {
      return hugeBytesSent;
    },
    arm: (rule, fault) => void armed.push({ rule, fault }),
    pending: () => armed.length,
    reset() {
      armed.splice(0);
      calls.splice(0);
      release();
    },
    toTarget: (url) => url.split(self).join(targetOrigin),
    close: () =>
      new Promise<void>((resolve) => {
        release();
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
