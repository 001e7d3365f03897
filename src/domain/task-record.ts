import type { Operation, TaskStatus } from '../contracts/common.js';
import type { Task } from '../contracts/task.js';

export interface TaskOutput {
  url: string;
  contentType: string;
  expiresAt: number | null;
}

export interface TaskError {
  code: string;
  message: string;
}

/** One change a client can see (status or progress), numbered for SSE ids and resumes. */
export interface TaskChange {
  seq: number;
  at: number;
  status: TaskStatus;
  progress: number | null;
}

export type WebhookEvent =
  'task.succeeded' | 'task.failed' | 'task.canceled' | 'task.running' | 'task.progress';

/**
 * One message to the client's webhook. It is written in the same store update as the change
 * that caused it (so it exists before the first attempt and survives a crash) and keeps its
 * id across attempts, so receivers can de-duplicate.
 */
export interface WebhookDelivery {
  /** The `webhook-id` header of every attempt. */
  id: string;
  event: WebhookEvent;
  /** The public task at the moment of the change: the body of every attempt. */
  payload: Task;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: number | null;
}

export interface WebhookState {
  url: string;
  events: WebhookEvent[];
  deliveries: WebhookDelivery[];
}

/** How many past changes a task keeps for SSE resumes (older ones are summarised by the task). */
export const CHANGE_HISTORY_LIMIT = 50;

/**
 * Outputs a task keeps at most. A model the tenant controls may answer with thousands of
 * URLs; every write and read of the record would carry them all.
 */
export const MAX_TASK_OUTPUTS = 64;

/** A task as stored: the public fields plus what genway needs to keep it current. */
export interface TaskRecord {
  id: string;
  tenant: string;
  type: Operation;
  model: string;
  provider: string;
  status: TaskStatus;
  progress: number | null;
  outputs: TaskOutput[];
  error: TaskError | null;
  upstreamId: string | null;
  upstreamStatus: string | null;
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
  /** Id (never the secret) of the credential that created the job; every later call uses it. */
  credentialId: string;
  /** Adapter-private data needed for later polls (e.g. a fetch URL). */
  upstreamState: Record<string, unknown>;
  /** When the poller should next ask the upstream; null once terminal. */
  nextPollAt: number | null;
  pollAttempts: number;
  /** When the upstream last answered a poll (or the create), for the unreachable deadline. */
  lastContactAt: number;
  /** Bumped on every write; the store refuses a write based on a stale version. */
  version: number;
  /** Sequence number of the last visible change (0: none yet). */
  changeSeq: number;
  /** The last CHANGE_HISTORY_LIMIT visible changes, oldest first. */
  changes: TaskChange[];
  /** The client webhook asked for on create, and its deliveries. */
  webhook: WebhookState | null;
  /** Earliest pending webhook attempt (the store indexes it); null when none is pending. */
  nextWebhookAt: number | null;
  /**
   * Set when the tenant deleted the task (soft delete, see TaskService.delete): from then on
   * it is "not found" for everyone and never listed; the row stays for the operator.
   */
  deletedAt?: number | null;
}

const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'canceled']);
export const isTerminal = (status: TaskStatus) => TERMINAL_STATUSES.has(status);

/**
 * Whether `tenant` may see the task: its own and not deleted. Another tenant's task is
 * indistinguishable from a missing one (both are "not found").
 */
export function isVisibleTo(task: TaskRecord | undefined, tenant: string): task is TaskRecord {
  return task !== undefined && task.tenant === tenant && !task.deletedAt;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The public view: what clients see. Never includes credentials or adapter state. */
export function toPublicTask(r: TaskRecord): Task {
  return {
    id: r.id,
    object: 'task',
    type: r.type,
    model: r.model,
    provider: r.provider,
    status: r.status,
    progress: r.progress,
    outputs: r.outputs.map((o) => ({
      url: o.url,
      content_type: o.contentType,
      expires_at: iso(o.expiresAt),
    })),
    error: r.error,
    upstream: { id: r.upstreamId, status: r.upstreamStatus },
    metadata: r.metadata,
    created_at: new Date(r.createdAt).toISOString(),
    updated_at: new Date(r.updatedAt).toISOString(),
    completed_at: iso(r.completedAt),
    webhook: r.webhook && {
      url: r.webhook.url,
      events: r.webhook.events,
      deliveries: r.webhook.deliveries.map((d) => ({
        id: d.id,
        event: d.event,
        status: d.status,
        attempts: d.attempts,
        last_status: d.lastStatus,
        last_error: d.lastError,
        next_attempt_at: iso(d.nextAttemptAt),
        delivered_at: iso(d.deliveredAt),
      })),
    },
  };
}
