import type { Pool } from 'undici';

/**
 * The bare proxy's work on a create, the limit of one Node hop: the client's JSON with the
 * upstream key added, forwarded to the ModelsLab stub (modelslab-child.ts) through `pool`, its
 * answer parsed (201 when the upstream said 200, else 502). Served by the speed baselines'
 * child and by the phases bench.
 */
export async function forwardCreate(
  pool: Pool,
  body: unknown,
  key: string,
): Promise<{ status: number; answer: unknown }> {
  const res = await pool.request({
    path: '/api/v1/enterprise/text2img',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...(body as Record<string, unknown>), key }),
  });
  const answer = (await res.body.json()) as Record<string, unknown>;
  return { status: res.statusCode === 200 ? 201 : 502, answer };
}
