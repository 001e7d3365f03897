/**
 * Serving a pool's waiting creates when slots are shared between instances (cluster mode):
 * each pass asks the store, so passes run one at a time (a request meanwhile asks for one
 * more pass), and slots freed by other instances are seen only by asking again, every
 * `recheckMs` while anyone waits (the store's counts are read first).
 */
/** How often waiting creates look for a slot freed by another instance. */
export const SHARED_WAIT_RECHECK_MS = 250;

export class SharedWaits {
  private running = false;
  private again = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      /** Serves the waiters once (may take several calls to the store). */
      pass: () => Promise<void>;
      /** Reads the cluster's counts before the next pass. */
      refresh: () => Promise<void>;
      /** Whether creates are waiting. */
      waiting: () => boolean;
      /** Default SHARED_WAIT_RECHECK_MS. */
      recheckMs?: number;
    },
  ) {}

  /** Serves the waiters now (or right after the pass under way). */
  serve(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      try {
        do {
          this.again = false;
          // A pass that failed leaves its waiters waiting: the next look serves them.
          await this.deps.pass().catch(() => undefined);
        } while (this.again && this.deps.waiting());
      } finally {
        this.running = false;
      }
    })();
  }

  /** Looks again after `recheckMs` (and every `recheckMs` after) while creates wait. */
  schedule(): void {
    if (this.closed || this.timer || !this.deps.waiting()) return;
    this.timer = setTimeout(() => {
      void this.deps
        .refresh()
        .catch(() => undefined)
        .finally(() => {
          this.timer = undefined;
          if (this.closed) return;
          this.serve();
          this.schedule();
        });
    }, this.deps.recheckMs ?? SHARED_WAIT_RECHECK_MS);
    this.timer.unref?.();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
