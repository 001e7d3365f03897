import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { forwardCreate } from './bare-proxy.js';
import { serveParent } from './ipc.js';

/**
 * The speed baselines in one process (measured one at a time): a Fastify hello-world
 * (`GET /hello`) and the limit of one Node hop, a bare Fastify + undici proxy
 * (`POST /proxy`: parse the JSON, add the upstream key, forward it through a Pool, parse the
 * answer, send it back). Default Fastify, no logger, like most hand-written proxies.
 *
 * More, printed beside genway's figures but not the goals' baselines:
 * - `POST /proxy-sqlite`: the proxy that also keeps the job durably, as genway does, in the
 *   fewest steps: a row committed before the upstream call, its end committed before the
 *   answer (SQLite at BENCH_SQLITE_PATH, WAL, synchronous=NORMAL, one commit per write);
 * - `GET /hello-task`: the hello-world answering genway's finished task as genway reads it
 *   (BENCH_TASK_JSON, serialized per request as a handler returning an object is), so that
 *   the answer's size is the same;
 * - with BENCH_REDIS_PREFIX (ioredis, auto-pipelining): `POST /proxy-redis`, the durable proxy
 *   on a Redis hash (written before the call and after), and `GET /redis-task`, the task's
 *   JSON read from a Redis hash on every request (one HMGET of the fields genway reads), the
 *   least a read that keeps nothing between requests costs in one Node hop.
 */
const upstream = process.env.BENCH_UPSTREAM_URL!;
const key = process.env.BENCH_MODELSLAB_KEY!;
const taskJson = process.env.BENCH_TASK_JSON!;
const redisPrefix = process.env.BENCH_REDIS_PREFIX;
const pool = new Pool(upstream, { connections: 128, keepAliveTimeout: 60_000 });

const db = new Database(process.env.BENCH_SQLITE_PATH!);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE jobs (id TEXT PRIMARY KEY, status TEXT NOT NULL, data TEXT NOT NULL)');
const insertJob = db.prepare('INSERT INTO jobs (id, status, data) VALUES (?, ?, ?)');
const finishJob = db.prepare('UPDATE jobs SET status = ?, data = ? WHERE id = ?');

const app = Fastify({ logger: false });
app.get('/hello', async () => ({ hello: 'world' }));
const task = JSON.parse(taskJson) as Record<string, unknown>;
app.get('/hello-task', async () => task);
app.post('/proxy', async (request, reply) => {
  const { status, answer } = await forwardCreate(pool, request.body, key);
  return reply.code(status).send(answer);
});
app.post('/proxy-sqlite', async (request, reply) => {
  const id = randomUUID();
  insertJob.run(id, 'queued', JSON.stringify(request.body));
  const { status, answer } = await forwardCreate(pool, request.body, key);
  finishJob.run(String(status), JSON.stringify(answer), id);
  return reply.code(status).send(answer);
});
if (redisPrefix) {
  const redis = new Redis('redis://127.0.0.1:6379', { enableAutoPipelining: true });
  const taskKey = `${redisPrefix}baseline-task`;
  await redis.hset(taskKey, { data: taskJson, v: '3', poll: '', hook: '' });
  app.get('/redis-task', async (_request, reply) => {
    const [data] = await redis.hmget(taskKey, 'data', 'v', 'poll', 'hook');
    return reply.type('application/json; charset=utf-8').send(data);
  });
  app.post('/proxy-redis', async (request, reply) => {
    const jobKey = `${redisPrefix}baseline-job:${randomUUID()}`;
    await redis.hset(jobKey, { status: 'queued', data: JSON.stringify(request.body) });
    const { status, answer } = await forwardCreate(pool, request.body, key);
    await redis.hset(jobKey, { status: String(status), data: JSON.stringify(answer) });
    return reply.code(status).send(answer);
  });
}
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
serveParent({ port: typeof address === 'object' && address ? address.port : 0 });
