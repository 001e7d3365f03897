/** Polls per second a credential may receive (Infinity or <= 0: unlimited). */
export type PollRateOf = (provider: string, credentialId: string) => number;

/**
 * The poll budget as the task service sees it: 0 to poll now, else the milliseconds to push
 * the task back. In-process (PollBudget below) or shared by every instance (cluster mode:
 * store/redis/poll-budget.ts).
 */
export interface PollAdmission {
  admit(
    provider: string,
    credentialId: string,
    taskId: string,
    now: number,
  ): number | Promise<number>;
}

/**
 * How many status polls each upstream credential may receive per second, so that a burst of
 * tasks on one key never polls faster than that key may be used.
 *
 * Per credential (`provider/credentialId`) it keeps a log of the poll starts of the last
 * second and a queue of booked slots:
 * - a due task is polled at once when fewer than `rate` polls started in the last second
 *   and no other task is waiting for a slot (so a burst of up to `rate` goes at once);
 * - otherwise it books the next free slot (once the log has room; booked slots are 1/rate s
 *   apart) and is pushed back to it: delayed, never dropped. At its slot it goes first.
 * So the polls that reach the upstream never exceed `rate` in any rolling second (a small
 * guard absorbs network jitter), and a backlog drains in order at exactly `rate`.
 *
 * In-process: several gateway processes sharing one store each have their own budget (in
 * cluster mode the shared one is used instead).
 */
export class PollBudget implements PollAdmission {
  private readonly keys = new Map<string, { starts: number[]; nextSlot: number }>();
  /** Slot booked by a pushed-back task, by task id. */
  private readonly booked = new Map<string, number>();
  private readonly windowMs: number;

  /**
   * @param rateOf polls per second a credential may receive (Infinity or <= 0: unlimited).
   * @param guardMs added to the one-second window, so the upstream never sees rate+1 polls
   *   within a second because of jitter between our clock and its.
   */
  constructor(
    private readonly rateOf: PollRateOf,
    guardMs = 50,
  ) {
    this.windowMs = 1000 + guardMs;
  }

  /**
   * Asks to poll `taskId` with the credential now. 0: go ahead (the poll is counted);
   * otherwise the milliseconds to wait before asking again (a slot is booked for it).
   */
  admit(provider: string, credentialId: string, taskId: string, now: number): number {
    const rate = this.rateOf(provider, credentialId);
    if (!(rate > 0) || rate === Infinity) return 0;
    const key = `${provider}/${credentialId}`;
    let state = this.keys.get(key);
    if (!state) this.keys.set(key, (state = { starts: [], nextSlot: 0 }));
    const { starts } = state;
    while (starts.length > 0 && starts[0]! <= now - this.windowMs) starts.shift();
    // A fractional rate (0.5/s) still allows one poll per window of 1/rate s.
    const perWindow = Math.max(1, Math.floor(rate));
    const spacing = this.windowMs / rate;
    const full = starts.length >= perWindow;
    const freeAt = full ? starts[starts.length - perWindow]! + this.windowMs : now;

    const slot = this.booked.get(taskId);
    if (slot !== undefined) {
      // Back at (or after) its slot: it goes first, unless lateness bunched polls together.
      if (slot > now) return slot - now;
      if (!full) {
        this.booked.delete(taskId);
        starts.push(now);
        return 0;
      }
      this.booked.set(taskId, freeAt);
      return Math.max(1, freeAt - now);
    }
    if (!full && state.nextSlot <= now) {
      starts.push(now);
      return 0;
    }
    const at = Math.max(state.nextSlot, freeAt, now + 1);
    state.nextSlot = at + spacing;
    this.booked.set(taskId, at);
    if (this.booked.size > 10_000) this.forgetStale(now);
    return at - now;
  }

  /** Bookings of tasks that never came back (finished, claimed by another process). */
  private forgetStale(now: number): void {
    for (const [id, at] of this.booked) if (at < now - 5 * 60_000) this.booked.delete(id);
  }
}
