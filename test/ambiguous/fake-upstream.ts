import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A misbehaving upstream on a loopback port, for creates whose answer never arrives:
 * - `reset`: reads the whole request, then destroys the socket without a byte of answer;
 * - `hang`: reads the request and never answers (the client's timeout ends it);
 * - `http500`: answers 500 with an HTML page (a proxy's error, no definitive body);
 * - `json`: answers `status` with `body` as JSON.
 * Every request is recorded with its body, so a test can prove a create was sent once.
 */
export type FakeMode =
  | { kind: 'reset' }
  | { kind: 'hang' }
  | { kind: 'http500' }
  | { kind: 'json'; status: number; body: unknown };

export interface FakeCall {
  method: string;
  path: string;
  body: string;
}

export interface FakeUpstream {
  url: string;
  calls: FakeCall[];
  /** Calls whose path ends with `suffix` (e.g. the create route). */
  callsTo(suffix: string): FakeCall[];
  setMode(mode: FakeMode): void;
  close(): Promise<void>;
}

export async function startFakeUpstream(mode: FakeMode): Promise<FakeUpstream> {
  let current = mode;
  const calls: FakeCall[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push({
        method: req.method ?? '',
        path: req.url ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
      });
      switch (current.kind) {
        case 'reset':
          req.socket.destroy();
          return;
        case 'hang':
          return;
        case 'http500':
          res.writeHead(500, { 'content-type': 'text/html' });
          res.end('<html><body>Internal Server Error</body></html>');
          return;
        case 'json':
          res.writeHead(current.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(current.body));
      }
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    callsTo: (suffix) => calls.filter((c) => c.path.split('?')[0]?.endsWith(suffix)),
    setMode: (m) => {
      current = m;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port with nothing listening (bound, then released): connections are refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
