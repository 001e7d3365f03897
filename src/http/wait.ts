import type { FastifyRequest } from 'fastify';

/** Seconds asked for by `Prefer: wait=N` (RFC 7240), capped; 0 when absent. */
export function preferWaitSeconds(prefer: string | undefined, max: number): number {
  const match = prefer ? /(?:^|[,;\s])wait=(\d{1,5})\b/i.exec(prefer) : null;
  return match?.[1] ? Math.min(Number(match[1]), max) : 0;
}

/** Aborts when the client hangs up, so a long-poll stops waiting for nobody. */
export function clientGone(request: FastifyRequest): AbortSignal {
  const controller = new AbortController();
  request.raw.once('close', () => controller.abort());
  return controller.signal;
}
