import type { Logger } from './logger.js';
import type { OutputCopier } from './output-copier.js';
import { isTerminal, type TaskOutput, type TaskRecord } from './task-record.js';
import type { TaskStore } from './task-store.js';

export type CopyOutcome = 'stored' | 'retry' | 'failed';

export interface MediaMetrics {
  /** One output copy ended (`bytes`: stored bytes, 0 unless stored). */
  mediaCopy(outcome: CopyOutcome, bytes: number): void;
}

export interface OutputCopiesOptions {
  store: TaskStore;
  copier: OutputCopier;
  logger: Logger;
  /** Tasks copied at the same time in this process (each copies its outputs in turn). */
  concurrency: number;
  /** Transient failures before an output is given up (it keeps the upstream link). */
  maxAttempts: number;
  /** Longest one output's copy may take (sizes the hold on the task's poll time). */
  timeoutMs: number;
  metrics?: MediaMetrics;
  now?: () => number;
}

/** Writes a task change over `prev` (TaskWriter.write). */
export type WriteTask = (next: TaskRecord, prev: TaskRecord) => Promise<TaskRecord | undefined>;

/**
 * Copy before announcing: an upstream success is held back (the task stays running, its poll
 * time pushed past the copy) while its outputs are copied into media storage; then
 * `succeeded` is written with the stored outputs. Copies run outside the poll loop, a bounded
 * number at a time, each with a time limit, so a slow upstream download holds only its task.
 * A transient failure re-polls the task later (fresh upstream links) up to `maxAttempts`.
 */
export class OutputCopies {
  private readonly now: () => number;
  /**
   * Copies waiting for a slot: the task id only (the record is read fresh when the copy
   * starts), so a backlog under load costs a few bytes per task, not a record each.
   */
  private readonly queue: { id: string; write: WriteTask }[] = [];
  private readonly busy = new Set<string>();
  private running = 0;
  private closed = false;
  private readonly idle = new Set<() => void>();

  constructor(private readonly o: OutputCopiesOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Whether a write that makes `next` succeeded must first wait for copies. */
  wants(next: TaskRecord, prev: TaskRecord): boolean {
    return (
      next.status === 'succeeded' &&
      !isTerminal(prev.status) &&
      next.outputs.some((o) => !o.stored && o.storeError === undefined)
    );
  }

  /** The record written instead of the success while its outputs are copied. */
  hold(next: TaskRecord, prev: TaskRecord): TaskRecord {
    const outputs = next.outputs.length > 0 ? next.outputs : (prev.copy?.outputs ?? []);
    return {
      ...next,
      status: prev.status === 'queued' ? 'running' : prev.status,
      progress: prev.progress,
      outputs: [],
      error: null,
      completedAt: null,
      nextPollAt: this.now() + this.leaseMs(outputs.length),
      copy: { attempts: prev.copy?.attempts ?? 0, outputs },
    };
  }

  /** Whether this process is copying (or about to copy) the task's outputs. */
  isCopying(taskId: string): boolean {
    return this.busy.has(taskId);
  }

  /** Starts copying a held task (written by `write`), when a slot is free. */
  schedule(held: TaskRecord, write: WriteTask): void {
    if (this.closed || this.busy.has(held.id)) return;
    this.busy.add(held.id);
    this.queue.push({ id: held.id, write });
    this.next();
  }

  /** Waits for the copies in progress (queued ones are left to the next poll). */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    while (this.running > 0) await new Promise<void>((resolve) => this.idle.add(resolve));
  }

  private leaseMs(outputs: number): number {
    return this.o.timeoutMs * Math.max(1, outputs) + 30_000;
  }

  private next(): void {
    while (this.running < this.o.concurrency && this.queue.length > 0) {
      const { id, write } = this.queue.shift()!;
      this.running++;
      void this.run(id, write).finally(() => {
        this.running--;
        for (const resolve of this.idle) resolve();
        this.idle.clear();
        this.next();
      });
    }
  }

  private async run(id: string, write: WriteTask): Promise<void> {
    try {
      const held = await this.o.store.get(id);
      if (!held?.copy || isTerminal(held.status) || held.deletedAt) return;
      const outputs: TaskOutput[] = [];
      let retry: string | undefined;
      for (const [index, output] of held.copy.outputs.entries()) {
        const result = await this.o.copier.copy(held, index, output);
        if (result.kind === 'stored') {
          this.o.metrics?.mediaCopy('stored', result.output.stored!.bytes);
          outputs.push(result.output);
          continue;
        }
        const giveUp = result.kind === 'permanent' || held.copy.attempts + 1 >= this.o.maxAttempts;
        if (!giveUp) retry ??= result.reason;
        this.o.metrics?.mediaCopy(giveUp ? 'failed' : 'retry', 0);
        const log = { taskId: id, index, reason: result.reason };
        this.o.logger.warn(
          log,
          giveUp
            ? 'output not stored; keeping the upstream link'
            : 'output copy failed, will retry',
        );
        outputs.push(giveUp ? { ...output, storeError: result.reason } : output);
      }
      await this.finish(id, outputs, retry, write);
    } catch (err) {
      this.o.logger.error({ err, taskId: id }, 'output copy crashed');
    } finally {
      this.busy.delete(id);
    }
  }

  /** Writes the outcome over the fresh record (compare-and-set; a few tries). */
  private async finish(
    id: string,
    outputs: TaskOutput[],
    retry: string | undefined,
    write: WriteTask,
  ) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const fresh = await this.o.store.get(id);
      if (!fresh?.copy || isTerminal(fresh.status) || fresh.deletedAt) return;
      const now = this.now();
      const next: TaskRecord = retry
        ? {
            ...fresh,
            // Poll again later: a fresh answer may carry fresh links; the copy is tried again.
            copy: { attempts: fresh.copy.attempts + 1, outputs: fresh.copy.outputs },
            nextPollAt: now + Math.min(60_000, 1000 * 2 ** fresh.copy.attempts),
          }
        : {
            ...fresh,
            status: 'succeeded',
            progress: 1,
            outputs,
            error: null,
            completedAt: now,
            nextPollAt: null,
            copy: null,
          };
      if (await write(next, fresh)) return;
    }
  }
}
