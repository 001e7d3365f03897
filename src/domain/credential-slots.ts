/**
 * The bounded wait queue of one provider's creates when every credential is at its in-flight
 * cap: first come, first served, at most `max` waiting, each for at most `waitMs`.
 */

export interface SlotQueuePolicy {
  /** Creates that may wait for a free slot at once; 0: none waits, the create is refused. */
  max: number;
  /** How long a create waits for a slot before it is refused. */
  waitMs: number;
}

interface Waiter<T> {
  exclude: ReadonlySet<string>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

export class SlotQueue<T> {
  private readonly waiters: Waiter<T>[] = [];

  constructor(readonly policy: SlotQueuePolicy) {}

  get length(): number {
    return this.waiters.length;
  }

  get full(): boolean {
    return this.waiters.length >= this.policy.max;
  }

  /** Waits to be handed a slot by `serve`; rejects with `timeout()` after `waitMs`. */
  wait(exclude: ReadonlySet<string>, timeout: () => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        exclude,
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
   * Hands out slots in arrival order: `take` returns a slot for a waiter (given what it must
   * not use), or undefined when none is free for it; a waiter with nothing free keeps its
   * place and the next one is tried (it may accept other credentials).
   */
  serve(take: (exclude: ReadonlySet<string>) => T | undefined): void {
    for (let i = 0; i < this.waiters.length;) {
      const waiter = this.waiters[i]!;
      const slot = take(waiter.exclude);
      if (slot === undefined) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      clearTimeout(waiter.timer);
      waiter.resolve(slot);
    }
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
