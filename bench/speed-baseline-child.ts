import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { serveParent } from './ipc.js';

/**
 * The speed baselines in one process (measured one at a time): a Fastify hello-world
 * (`GET /hello`) and the limit of one Node hop, a bare Fastify + undici proxy
 * (`POST /proxy`: parse the JSON, add the upstream key, forward it through a Pool, parse the
 * answer, send it back). Default Fastify, no logger, like most hand-written proxies.
 *
 * Two more, beside genway's reads only (not the goals' baselines): the hello-world answering
 * genway's finished task as it reads it (`GET /hello-task`, BENCH_TASK_JSON, serialized per
 * request as a handler returning an object is), so that the answer's size is the same; and,
 * with BENCH_REDIS_KEY, that answer read from a Redis hash on every request
 * (`GET /redis-task`: one HMGET of the fields genway reads, ioredis with auto-pipelining),
 * the least a read that keeps nothing between requests costs in one Node hop.
 */
const upstream = process.env.BENCH_UPSTREAM_URL!;
const key = process.env.BENCH_MODELSLAB_KEY!;
const taskJson = process.env.BENCH_TASK_JSON!;
const redisKey = process.env.BENCH_REDIS_KEY;
const pool = new Pool(upstream, { connections: 128, keepAliveTimeout: 60_000 });

const app = Fastify({ logger: false });
app.get('/hello', async () => ({ hello: 'world' }));
const task = JSON.parse(taskJson) as Record<string, unknown>;
app.get('/hello-task', async () => task);
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
if (redisKey) {
  const redis = new Redis('redis://127.0.0.1:6379', { enableAutoPipelining: true });
  await redis.hset(redisKey, { data: taskJson, v: '3', poll: '', hook: '' });
  app.get('/redis-task', async (_request, reply) => {
    const [data] = await redis.hmget(redisKey, 'data', 'v', 'poll', 'hook');
    return reply.type('application/json; charset=utf-8').send(data);
  });
}
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
serveParent({ port: typeof address === 'object' && address ? address.port : 0 });
