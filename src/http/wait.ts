import type { FastifyReply } from 'fastify';

const ONLY_WAIT = /^\s*wait\s*=\s*(\d{1,5})\s*$/i;

/**
 * The `wait` preference of a `Prefer` header (RFC 7240; preferences and their parameters split
 * on `,` and `;`): `wait=N` → N, a bare `wait` → null, undefined when there is none. Each
 * surface decides what a bare `wait` and the bounds mean.
 */
export function preferredWait(header: string | string[] | undefined): number | null | undefined {
  // The usual header, `wait=N` alone, without splitting it.
  const only = typeof header === 'string' ? ONLY_WAIT.exec(header) : null;
  if (only) return Number(only[1]);
  for (const token of [header ?? []].flat().join(',').split(/[,;]/)) {
    const m = /^wait(?:\s*=\s*(\d{1,5}))?$/i.exec(token.trim());
    if (m) return m[1] === undefined ? null : Number(m[1]);
  }
  return undefined;
}

/** Seconds asked for by `Prefer: wait=N`, capped; 0 when absent (a bare `wait` asks nothing). */
export function preferWaitSeconds(prefer: string | undefined, max: number): number {
  const asked = preferredWait(prefer);
  return typeof asked === 'number' ? Math.min(asked, max) : 0;
}

/**
 * Aborts when the client hangs up, so a long-poll stops waiting for nobody. Watches the
 * answer, not the request: a request's 'close' fires once its body is read, not when the
 * client leaves. A client already gone when this is called aborts at once.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const res = reply.raw;
  if (res.destroyed || res.socket?.destroyed) controller.abort();
  else res.once('close', () => controller.abort());
  return controller.signal;
}
