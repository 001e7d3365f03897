import type { FastifyReply } from 'fastify';
import { GatewayError } from '../errors/gateway-error.js';

/**
 * Requests held open (SSE streams, long-polls, `Prefer: wait`) cost a socket, a waiter and a
 * timer each for up to a minute or more: capped per tenant and in all, so one tenant cannot
 * take every connection the process can keep. A place is taken before anything is created
 * and given back when the answer's connection closes. 0: no cap.
 */
export class HeldRequests {
  private total = 0;
  private readonly byTenant = new Map<string, number>();

  constructor(private readonly caps: { readonly total: number; readonly perTenant: number }) {}

  /** Takes a place for `reply` until its connection closes; 429 when none is left. */
  hold(tenant: string, reply: FastifyReply): void {
    const mine = this.byTenant.get(tenant) ?? 0;
    const { total, perTenant } = this.caps;
    if (perTenant > 0 && mine >= perTenant) {
      throw full(`This key already holds ${mine} open requests (SSE, long-polls, Prefer: wait)`);
    }
    if (total > 0 && this.total >= total) {
      throw full('The gateway holds as many open requests as it takes; retry shortly');
    }
    this.total++;
    this.byTenant.set(tenant, mine + 1);
    reply.raw.once('close', () => this.release(tenant));
  }

  /** Places held now, by one tenant or in all. */
  held(tenant?: string): number {
    return tenant === undefined ? this.total : (this.byTenant.get(tenant) ?? 0);
  }

  private release(tenant: string): void {
    this.total--;
    const left = (this.byTenant.get(tenant) ?? 1) - 1;
    if (left > 0) this.byTenant.set(tenant, left);
    else this.byTenant.delete(tenant);
  }
}

const full = (detail: string) => new GatewayError('rate_limited', detail, { retryAfterMs: 1000 });
