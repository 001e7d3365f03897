import { Redis, ReplyError } from 'ioredis';
import type { Logger } from '../../domain/logger.js';
import { StoreUnavailableError } from '../../domain/task-store.js';

/** Anything but a Redis reply error (a script's own error) is a StoreUnavailableError. */
function storeError(err: unknown): unknown {
  if (err instanceof ReplyError) return err;
  return new StoreUnavailableError(err instanceof Error ? err.message : String(err), {
    cause: err,
  });
}

export interface RedisConnectionOptions {
  /** How long a command waits for a (re)connection before failing (default 2 s). */
  connectWaitMs?: number;
  /** How long one command may take before it fails (default 5 s). */
  commandTimeoutMs?: number;
  /** Where outages and recoveries are reported (once each, not per retry). */
  logger?: Logger;
}

/**
 * One ioredis connection that never crashes the process: errors are listened to, reconnects
 * are retried forever with a bounded back-off, and commands fail fast with a
 * StoreUnavailableError while Redis is away (no offline queue that would hold requests).
 */
export class RedisConnection {
  readonly client: Redis;
  private readonly connectWaitMs: number;
  /** Settles with the first connection: ready, or failed. */
  private readonly firstConnection: Promise<void>;
  /** `starting` until the first connection; `down` from a lost connection until the next one. */
  private state: 'starting' | 'up' | 'down' = 'starting';
  private closed = false;
  /** Writes held until the next check phase (coalesceWrites). */
  private corked = false;

  constructor(url: string, options: RedisConnectionOptions = {}) {
    this.connectWaitMs = options.connectWaitMs ?? 2000;
    const logger = options.logger;
    this.client = new Redis(url, {
      enableOfflineQueue: false,
      // Commands in flight when the connection drops fail at once (0 retries) instead of
      // being re-sent after a reconnect: the caller re-reads and decides.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 5000,
      connectTimeout: 3000,
      // Reconnect forever, at most a second apart.
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    });
    let settleFirst: (err?: Error) => void = () => {};
    this.firstConnection = new Promise<void>((resolve, reject) => {
      settleFirst = (err) => (err ? reject(err) : resolve());
    });
    this.firstConnection.catch(() => {});
    let lastError: Error | undefined;
    const lost = () => {
      if (this.state === 'down' || this.closed) return;
      const what = this.state === 'starting' ? 'not reachable' : 'connection lost';
      this.state = 'down';
      settleFirst(new StoreUnavailableError(`Redis ${what}`, { cause: lastError }));
      logger?.error({ err: lastError }, `redis: ${what}; reconnecting`);
    };
    // Listening to 'error' is what keeps ioredis from crashing the process; a fatal error
    // is followed by 'close'.
    this.client.on('error', (err: Error) => {
      lastError = err;
      if (this.client.status !== 'ready') lost();
    });
    this.client.on('close', lost);
    this.client.on('ready', () => {
      if (this.state === 'down') logger?.info({}, 'redis: connection back');
      this.state = 'up';
      lastError = undefined;
      settleFirst();
    });
  }

  /**
   * Runs `command` once the connection is ready. Anything but a Redis reply error (a
   * script's own error) becomes a StoreUnavailableError.
   */
  run<T>(command: () => Promise<T>): Promise<T> {
    // Ready (the usual case): no extra await before the command, a read's hot path.
    if (this.client.status !== 'ready') return this.ready().then(() => this.runReady(command));
    return this.runReady(command);
  }

  private runReady<T>(command: () => Promise<T>): Promise<T> {
    this.coalesceWrites();
    try {
      return command().catch((err: unknown) => Promise.reject(storeError(err)));
    } catch (err) {
      return Promise.reject(storeError(err));
    }
  }

  /**
   * Holds the socket's writes until the event loop's check phase: the commands of every
   * request handled in one loop turn leave in one write (one syscall here, one read in Redis)
   * instead of one each. Measured under c=50: about a fifth less CPU per read in genway, and
   * Redis answers a read with a quarter of the CPU; sequential latency unchanged. (ioredis'
   * enableAutoPipelining does the same through a Pipeline per batch, which costs more here.)
   */
  private coalesceWrites(): void {
    if (this.corked) return;
    const stream = this.client.stream;
    stream.cork();
    this.corked = true;
    setImmediate(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  /** Ready now, or the first connection within connectWaitMs; during an outage, fail at once. */
  private async ready(): Promise<void> {
    if (this.client.status === 'ready') return;
    if (this.closed || this.client.status === 'end') {
      throw new StoreUnavailableError('the Redis connection is closed');
    }
    if (this.state !== 'starting') {
      throw new StoreUnavailableError(`Redis not reachable (${this.client.status})`);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`Redis not reachable (${this.client.status})`)),
        this.connectWaitMs,
      );
    });
    try {
      await Promise.race([this.firstConnection, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.client.status === 'ready') {
      try {
        await this.client.quit();
        return;
      } catch {
        // Fall through: drop the socket.
      }
    }
    this.client.disconnect();
  }
}
