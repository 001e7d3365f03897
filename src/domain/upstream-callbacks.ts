import type { Logger } from './logger.js';
import { GatewayError, isGatewayError } from '../errors/gateway-error.js';
import type { TaskStore } from './task-store.js';
import type { ModelRegistry } from './models.js';
import {
  CALLBACK_STATE_KEY,
  type CallbackRequest,
  type CallbackTask,
  type UpstreamCallbacks,
  type UpstreamSnapshot,
} from './ports.js';
import type { TaskRecord } from './task-record.js';
import type { TaskService } from './task-service.js';

export interface UpstreamCallbackDeps {
  store: TaskStore;
  models: ModelRegistry;
  tasks: TaskService;
  logger: Logger;
  now?: () => number;
}

/** What became of an authentic callback. */
export interface CallbackReceipt {
  taskId: string;
  /** false: nothing changed (late, duplicate, older status, create still in flight). */
  applied: boolean;
  reason?: string;
}

/**
 * Upstream callbacks (webhooks an upstream POSTs when a job changes): authenticates one through
 * the provider's adapter, finds its task and hands the snapshot to TaskService.applyCallback.
 *
 * - The task comes from the callback URL (the task id it names), never from the body; for
 *   providers whose callback URL is fixed in their console, it is looked up by the upstream id
 *   of the verified body.
 * - Nothing of the body is read before it is authenticated; an unknown task is only reported
 *   to a callback that passed its signature check (so task ids cannot be probed unsigned).
 * - An authentic callback about another upstream job than the task's is refused (403).
 * - A callback only speeds a task up: it never moves one backwards, a late or duplicate one
 *   changes nothing, and polling goes on until the task is terminal.
 */
export class UpstreamCallbackService {
  private readonly now: () => number;

  constructor(private readonly deps: UpstreamCallbackDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The provider's callbacks, or undefined when genway takes none from it. */
  callbacksOf(provider: string): UpstreamCallbacks | undefined {
    return this.deps.models.adapter(provider)?.callbacks;
  }

  async receive(
    provider: string,
    taskId: string | undefined,
    request: Omit<CallbackRequest, 'now'>,
  ): Promise<CallbackReceipt> {
    const callbacks = this.callbacksOf(provider);
    if (!callbacks) {
      throw new GatewayError('not_found', `genway takes no callbacks from ${provider}`);
    }
    const log = { provider, taskId };
    let named: TaskRecord | undefined;
    if (callbacks.routing === 'task') {
      if (taskId === undefined) throw new GatewayError('not_found', 'The callback names no task');
      const found = await this.deps.store.get(taskId);
      named = found?.provider === provider ? found : undefined;
    }
    let verified;
    try {
      verified = callbacks.verify({ ...request, now: this.now() }, named && viewOf(named));
    } catch (err) {
      this.deps.logger.warn(
        { ...log, code: isGatewayError(err) ? err.code : 'internal' },
        'upstream callback rejected',
      );
      throw err;
    }

    let task = named;
    if (callbacks.routing === 'upstream-id') {
      if (verified.upstreamId === null) {
        throw GatewayError.invalid(
          [{ path: 'id', message: 'required' }],
          'The callback names no upstream job',
        );
      }
      task = await this.deps.store.findByUpstreamId(provider, verified.upstreamId);
    }
    if (!task) {
      this.deps.logger.warn(
        { ...log, upstreamId: verified.upstreamId },
        'authentic upstream callback for an unknown task',
      );
      throw new GatewayError('task_not_found', 'No task of genway is waiting for this callback');
    }
    if (
      verified.upstreamId !== null &&
      task.upstreamId !== null &&
      verified.upstreamId !== task.upstreamId
    ) {
      this.deps.logger.warn(
        { ...log, taskId: task.id, upstreamId: verified.upstreamId },
        'upstream callback about another job than the task’s',
      );
      throw new GatewayError(
        'callback_mismatch',
        `The callback is about upstream job ${verified.upstreamId}, not the job of task ${task.id}`,
      );
    }

    let snapshot: UpstreamSnapshot;
    try {
      snapshot = verified.snapshot(viewOf(task));
    } catch (err) {
      this.deps.logger.warn(
        { ...log, taskId: task.id, code: isGatewayError(err) ? err.code : 'internal' },
        'authentic upstream callback with an unreadable body',
      );
      throw isGatewayError(err)
        ? err
        : GatewayError.invalid([], 'The callback body could not be read');
    }
    const result = await this.deps.tasks.applyCallback(provider, task.id, snapshot);
    this.deps.logger.info(
      {
        provider,
        taskId: task.id,
        upstreamStatus: snapshot.upstreamStatus,
        applied: result.applied,
        ...(result.reason ? { reason: result.reason } : {}),
      },
      result.applied ? 'upstream callback applied' : 'upstream callback changed nothing',
    );
    return {
      taskId: task.id,
      applied: result.applied,
      ...(result.reason ? { reason: result.reason } : {}),
    };
  }
}

function viewOf(task: TaskRecord): CallbackTask {
  const { [CALLBACK_STATE_KEY]: kept, ...state } = task.upstreamState;
  return {
    id: task.id,
    operation: task.type,
    upstreamId: task.upstreamId,
    state,
    callbackState: kept && typeof kept === 'object' ? (kept as Record<string, unknown>) : {},
  };
}
