import http from 'node:http';
import { startModelslabEmulator } from '../src/emulators/modelslab/server.js';
import { serveParent } from './ipc.js';

/**
 * The speed benchmarks' upstream, in its own process: ModelsLab's text-to-image create answered
 * `success` at once, its output served at the link the answer gives.
 *
 * Not the emulator itself: a faithful fake does real work on every create (records the call,
 * validates the body, draws and keeps a PNG), about 0.4 ms here with a tail of several ms (its
 * garbage collections), more than genway adds. Measured through it, the bare proxy runs at the
 * emulator's own throughput, so a throughput ratio only says how close each server gets to the
 * emulator's limit, and its tail swamps every added p99. So one create through the emulator at
 * start gives a real answer and its PNG; afterwards every create gets that answer with the next
 * id, from node:http, keeping nothing per call.
 */
const key = process.env.BENCH_MODELSLAB_KEY ?? 'ml-bench-key-0123456789abcdef';
const CREATE_PATH = '/api/v1/enterprise/text2img';

const emulator = await startModelslabEmulator({ apiKeys: [key] });
const sample = (await (
  await fetch(`${emulator.url}${CREATE_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key, prompt: 'a red fox in snow' }),
  })
).json()) as { status: string; id: number; output: string[] } & Record<string, unknown>;
const outputUrl = new URL(sample.output[0]!);
const png = Buffer.from(await (await fetch(outputUrl)).arrayBuffer());
await emulator.close();
if (sample.status !== 'success') throw new Error(`the emulator answered ${sample.status}`);

let nextId = sample.id;
/** The output link every answer gives: this server's own, once it listens. */
let outputLink = '';
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.method === 'POST' && req.url === CREATE_PATH) {
      const answer = { ...sample, id: ++nextId, output: [outputLink] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    } else if (req.method === 'GET' && req.url === outputUrl.pathname) {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png);
    } else {
      res.writeHead(404).end();
    }
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as { port: number }).port;
outputLink = `http://127.0.0.1:${port}${outputUrl.pathname}`;

// `reset` between rounds: nothing is kept per call, so nothing to drop.
serveParent({ port }, { reset: () => true });
