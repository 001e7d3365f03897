import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** SQLite's own default: a checkpoint once the WAL holds this many pages. */
const AUTO_CHECKPOINT_PAGES = 1000;

// CommonJS run by the worker thread (eval: no file to find in src/ or dist/).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or a transient I/O error: the next round tries again.
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the commit
 * that crosses 1000 WAL pages: that commit (a create's insert or update, on the request's
 * path) then copies the WAL into the database file and syncs it, milliseconds to tens of
 * milliseconds. Here the connection serving requests never checkpoints; a worker thread with
 * a connection of its own runs a PASSIVE checkpoint every `intervalMs`, which never blocks
 * readers or writers. Durability is unchanged (WAL, synchronous=NORMAL). Should the worker
 * not run, the automatic checkpoint is turned back on.
 */
export class WalCheckpoints {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private closing = false;

  constructor(
    private readonly db: Database.Database,
    path: string,
    intervalMs = 250,
  ) {
    db.pragma('wal_autocheckpoint = 0');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        module: createRequire(import.meta.url).resolve('better-sqlite3'),
        path,
        intervalMs,
      },
    });
    this.worker.unref();
    const fallBack = () => {
      if (!this.closing && this.db.open) {
        this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
      }
    };
    this.worker.on('error', fallBack);
    this.exited = new Promise<void>((resolve) =>
      this.worker.once('exit', () => {
        fallBack();
        resolve();
      }),
    );
  }

  /** Stops the worker (its connection closed first), before the main connection closes. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.worker.postMessage('close');
    const bound = setTimeout(() => void this.worker.terminate(), 2000);
    await this.exited;
    clearTimeout(bound);
  }
}
