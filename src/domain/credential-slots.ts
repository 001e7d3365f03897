/**
 * The bounded wait queue of one provider's creates when every credential is at its in-flight
 * cap: at most `max` waiting, each for at most `waitMs`, each for a tenant. Who is served
 * first is the caller's order (see fair-share.ts); arrival order by default.
 */

export interface SlotQueuePolicy {
  /** Creates that may wait for a free slot at once; 0: none waits, the create is refused. */
  max: number;
  /** How long a create waits for a slot before it is refused. */
  waitMs: number;
}

export interface Waiter<T> {
  tenant: string;
  /** Arrival order. */
  seq: number;
  exclude: ReadonlySet<string>;
  /** Who the slot is for (the task id): the holder of a slot shared between instances. */
  holder: string | undefined;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

export class SlotQueue<T> {
  private readonly waiters: Waiter<T>[] = [];
  private arrivals = 0;

  constructor(readonly policy: SlotQueuePolicy) {}

  get length(): number {
    return this.waiters.length;
  }

  get full(): boolean {
    return this.waiters.length >= this.policy.max;
  }

  /** Creates waiting, per tenant. */
  waitingByTenant(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const w of this.waiters) counts.set(w.tenant, (counts.get(w.tenant) ?? 0) + 1);
    return counts;
  }

  /** Waits to be handed a slot by `serve`; rejects with `timeout()` after `waitMs`. */
  wait(
    tenant: string,
    exclude: ReadonlySet<string>,
    timeout: () => unknown,
    holder?: string,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        tenant,
        seq: this.arrivals++,
        exclude,
        holder,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.remove(waiter);
          reject(timeout());
        }, this.policy.waitMs),
      };
      waiter.timer.unref?.();
      this.waiters.push(waiter);
    });
  }

  /**
   * Hands out slots, one at a time, to the first waiter in `order` that can use one: `take`
   * returns a slot for a waiter (given its tenant and what it must not use), or undefined when
   * none is free for it; a waiter with nothing free keeps its place and the next one is tried
   * (it may accept other credentials). `order` is asked again after every slot handed out.
   */
  serve(
    take: (tenant: string, exclude: ReadonlySet<string>) => T | undefined,
    order: (waiters: readonly Waiter<T>[]) => readonly Waiter<T>[] = (w) => w,
  ): void {
    for (let served = true; served && this.waiters.length > 0;) {
      served = false;
      for (const waiter of order(this.waiters)) {
        const slot = take(waiter.tenant, waiter.exclude);
        if (slot === undefined) continue;
        this.remove(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(slot);
        served = true;
        break;
      }
    }
  }

  /**
   * Like `serve`, with a `take` that asks elsewhere (slots shared between instances): a waiter
   * that left while its slot was being taken (timed out, displaced) gives it back through
   * `giveBack`.
   */
  async serveAsync(
    take: (waiter: Waiter<T>) => Promise<T | undefined>,
    order: (waiters: readonly Waiter<T>[]) => readonly Waiter<T>[],
    giveBack: (slot: T, waiter: Waiter<T>) => void,
  ): Promise<void> {
    for (let served = true; served && this.waiters.length > 0;) {
      served = false;
      for (const waiter of order(this.waiters)) {
        if (!this.waiters.includes(waiter)) continue;
        const slot = await take(waiter);
        if (slot === undefined) continue;
        if (!this.waiters.includes(waiter)) {
          giveBack(slot, waiter);
          continue;
        }
        this.remove(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(slot);
        served = true;
        break;
      }
    }
  }

  /** Refuses the newest waiter of `tenant` with `err` (its place goes to someone else). */
  displaceNewest(tenant: string, err: unknown): void {
    const at = this.waiters.findLastIndex((w) => w.tenant === tenant);
    if (at === -1) return;
    const [waiter] = this.waiters.splice(at, 1);
    clearTimeout(waiter!.timer);
    waiter!.reject(err);
  }

  /** Refuses every waiter for which `refusal` returns an error (nothing could ever serve it). */
  refuse(refusal: (exclude: ReadonlySet<string>) => unknown): void {
    for (let i = 0; i < this.waiters.length;) {
      const waiter = this.waiters[i]!;
      const err = refusal(waiter.exclude);
      if (err === undefined) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
  }

  private remove(waiter: Waiter<T>): void {
    const at = this.waiters.indexOf(waiter);
    if (at !== -1) this.waiters.splice(at, 1);
  }
}
