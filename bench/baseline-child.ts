import { EventEmitter } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveParent } from './ipc.js';

/**
 * The latency and memory baseline: a bare node:http server holding long-poll requests and
 * event streams, notified from an in-process EventEmitter. Each of BASE_KEYS keys "changes"
 * every BASE_INTERVAL_MS (own random phase); the change carries its emit time.
 */
const keys = Number(process.env.BASE_KEYS ?? 1);
const intervalMs = Number(process.env.BASE_INTERVAL_MS ?? 500);
const nowMs = () => performance.timeOrigin + performance.now();
const changes = new EventEmitter();
changes.setMaxListeners(0);
const seq = new Array<number>(keys).fill(0);

for (let k = 0; k < keys; k++) {
  setTimeout(
    () =>
      setInterval(() => {
        const payload = JSON.stringify({ key: k, seq: ++seq[k]!, t: nowMs() });
        changes.emit(`change:${k}`, payload);
      }, intervalMs),
    Math.random() * intervalMs,
  );
}

const server = createServer((req, res) => {
  const match = /^\/(wait|events)\/(\d+)$/.exec(req.url ?? '');
  if (!match) return void res.writeHead(404).end();
  const event = `change:${match[2]}`;
  if (match[1] === 'wait') {
    const answer = (payload: string) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(payload);
    changes.once(event, answer);
    res.once('close', () => changes.off(event, answer));
    return;
  }
  const stream: ServerResponse = res;
  stream.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  stream.write('retry: 2000\n\n');
  const send = (payload: string) => stream.write(`data: ${payload}\n\n`);
  changes.on(event, send);
  res.once('close', () => changes.off(event, send));
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  serveParent({ port: (server.address() as AddressInfo).port });
});
