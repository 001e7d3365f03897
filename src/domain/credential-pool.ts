import type { Credential } from '../config/config.js';

/**
 * How a provider's credentials are chosen for a new task:
 * - `first`: always the first one (an upstream load balancer spreads the work, as ModelsLab's
 *   enterprise balancer does when given the first server's key);
 * - `fewest-in-flight`: the credential with the fewest unfinished tasks (ties: list order).
 * Later calls for a task always use the credential that created it (looked up by id).
 */
export type CredentialStrategy = 'first' | 'fewest-in-flight';

export class CredentialPool {
  private readonly inFlight = new Map<string, number>();
  private readonly byIdMap: ReadonlyMap<string, Credential>;

  constructor(
    readonly provider: string,
    private readonly credentials: readonly Credential[],
    private readonly strategy: CredentialStrategy,
  ) {
    this.byIdMap = new Map(credentials.map((c) => [c.id, c]));
  }

  /** Restores in-flight counts from the store after a restart. */
  seed(counts: ReadonlyMap<string, number>): void {
    for (const [id, n] of counts) if (this.byIdMap.has(id)) this.inFlight.set(id, n);
  }

  pick(): Credential | undefined {
    if (this.strategy === 'first') return this.credentials[0];
    let best: Credential | undefined;
    let bestCount = Infinity;
    for (const c of this.credentials) {
      const n = this.inFlight.get(c.id) ?? 0;
      if (n < bestCount) {
        best = c;
        bestCount = n;
      }
    }
    return best;
  }

  byId(id: string): Credential | undefined {
    return this.byIdMap.get(id);
  }

  acquire(id: string): void {
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
  }

  release(id: string): void {
    const n = this.inFlight.get(id) ?? 0;
    this.inFlight.set(id, Math.max(0, n - 1));
  }

  inFlightOf(id: string): number {
    return this.inFlight.get(id) ?? 0;
  }
}
