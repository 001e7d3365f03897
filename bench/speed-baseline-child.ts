import Fastify from 'fastify';
import { Pool } from 'undici';
import { serveParent } from './ipc.js';

/**
 * The speed baselines in one process (measured one at a time): a Fastify hello-world
 * (`GET /hello`) and the limit of one Node hop, a bare Fastify + undici proxy
 * (`POST /proxy`: parse the JSON, add the upstream key, forward it through a Pool, parse the
 * answer, send it back). Default Fastify, no logger, like most hand-written proxies.
 */
const upstream = process.env.BENCH_UPSTREAM_URL!;
const key = process.env.BENCH_MODELSLAB_KEY!;
const pool = new Pool(upstream, { connections: 128, keepAliveTimeout: 60_000 });

const app = Fastify({ logger: false });
app.get('/hello', async () => ({ hello: 'world' }));
app.post('/proxy', async (request, reply) => {
  const res = await pool.request({
    path: '/api/v1/enterprise/text2img',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...(request.body as Record<string, unknown>), key }),
  });
  const answer = (await res.body.json()) as Record<string, unknown>;
  return reply.code(res.statusCode === 200 ? 201 : 502).send(answer);
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
serveParent({ port: typeof address === 'object' && address ? address.port : 0 });
