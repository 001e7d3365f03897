import type { Operation, TaskStatus } from '../contracts/common.js';
import type { Task } from '../contracts/task.js';
import type { UpstreamUsage } from './pricing.js';

export interface TaskOutput {
  /** The upstream's link (kept for video references and as the fallback of a failed copy). */
  url: string;
  contentType: string;
  /** When the upstream stops serving `url`, if known. */
  expiresAt: number | null;
  /** genway's own copy (media storage); absent when storage is off or the copy failed. */
  stored?: StoredCopy;
  /** Why no copy could be made (storage was on); the output then keeps the upstream link. */
  storeError?: string;
}

/** An output copied into media storage (key `outputKey(task id, index)`). */
export interface StoredCopy {
  bytes: number;
  /** Hex SHA-256 of the stored bytes. */
  sha256: string;
  /** Checked by magic bytes. */
  contentType: string;
  storedAt: number;
  /** End of retention: the bytes are deleted then. */
  expiresAt: number;
  /** A poster frame was stored beside the output (`outputKey(id, index, true)`). */
  poster?: { contentType: string; bytes: number };
}

/** Signed genway links of stored outputs, made at render time (see media-links.ts). */
export interface OutputLinks {
  link(taskId: string, index: number, variant: 'file' | 'poster'): string;
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
  /**
   * The body of every attempt: the public task at the moment of the change, or, for a webhook
   * asked for through a compatible surface (`WebhookState.format`), that surface's own object.
   * Kept while pending only: a finished delivery is a summary (see webhook-deliveries.ts).
   */
  payload?: unknown;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: number | null;
}

/**
 * A webhook asked for through a compatible surface: its messages carry that surface's own object
 * (rendered by the body format registered under `name`, see TaskWriterDeps.webhookBodies), with
 * links under `base` (the surface's URL as the caller reached it).
 */
export interface WebhookFormat {
  name: string;
  base: string;
}

export interface WebhookState {
  url: string;
  events: WebhookEvent[];
  /** Absent: the body is genway's public task. */
  format?: WebhookFormat;
  /** Pending ones and the most recent finished ones, bounded (see webhook-deliveries.ts). */
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
  /** Outputs the upstream answered beyond the MAX_TASK_OUTPUTS kept (absent: none). */
  outputsOmitted?: number;
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
  /**
   * The caller's deadline (`timeout_seconds`, `Cancel-After`; ms since the epoch), or null/absent
   * for none: never polled past it; at it the task is canceled upstream where the provider can,
   * else given up (see task-transitions `pastDeadline`).
   */
  deadlineAt?: number | null;
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
  /**
   * Set while the outputs of an upstream success are copied into media storage: the task stays
   * running until they are stored (or given up). `attempts` counts transient failures.
   */
  copy?: { attempts: number; outputs: TaskOutput[] } | null;
  /** The admin key that created it (null or absent: a key from the configuration). */
  keyId?: string | null;
  /** Estimated at create, charged at the terminal status (USD); absent on older tasks. */
  cost?: TaskCost;
  /** What the upstream reported about its charge (see UpstreamSnapshot.usage). */
  usage?: UpstreamUsage;
}

/**
 * What a read renders of a task: the record without its change history and without the
 * bodies of its webhook messages (a store may skip reading them, see TaskStore.readView).
 * Views may be shared between readers: never change one.
 */
export type TaskView = Omit<TaskRecord, 'changes' | 'webhook'> & {
  webhook: (Omit<WebhookState, 'deliveries'> & { deliveries: DeliveryView[] }) | null;
};

/** A webhook message as a read shows it (its body left out). */
export type DeliveryView = Omit<WebhookDelivery, 'payload'>;

/** A task's cost in USD: null where no price applies (or, for `charged`, until it finishes). */
export interface TaskCost {
  estimated: number | null;
  charged: number | null;
}

const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'canceled']);
export const isTerminal = (status: TaskStatus) => TERMINAL_STATUSES.has(status);

/**
 * Whether `tenant` may see the task: its own and not deleted. Another tenant's task is
 * indistinguishable from a missing one (both are "not found").
 */
export function isVisibleTo<T extends TaskView>(task: T | undefined, tenant: string): task is T {
  return task !== undefined && task.tenant === tenant && !task.deletedAt;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The outputs as clients see them: a stored one with its genway link, size and hash; one whose
 * copy failed with the upstream link and `stored: false`; with storage off, as before.
 */
export function publicOutputs(r: TaskView, links?: OutputLinks): Task['outputs'] {
  return r.outputs.map((o, i) => {
    const s = o.stored;
    if (s) {
      return {
        url: links ? links.link(r.id, i, 'file') : o.url,
        content_type: s.contentType,
        bytes: s.bytes,
        sha256: s.sha256,
        expires_at: iso(s.expiresAt),
        stored: true,
        ...(s.poster && links ? { poster_url: links.link(r.id, i, 'poster') } : {}),
      };
    }
    const base = { url: o.url, content_type: o.contentType, expires_at: iso(o.expiresAt) };
    return o.storeError === undefined
      ? base
      : { ...base, stored: false, store_error: o.storeError };
  });
}

/**
 * The links `links` gives the task's stored outputs, as one string: two renderings of one
 * unchanged task with the same key are the same (see MediaLinkSigner's expiry steps).
 */
export function outputLinksKey(r: TaskView, links?: OutputLinks): string {
  let key = '';
  if (!links) return key;
  r.outputs.forEach((o, i) => {
    if (!o.stored) return;
    key += links.link(r.id, i, 'file');
    if (o.stored.poster) key += `\n${links.link(r.id, i, 'poster')}`;
    key += '\n';
  });
  return key;
}

/**
 * The public view: what clients see. Never includes credentials or adapter state. Stored
 * outputs are shown with genway links from `links` (without it: the upstream link).
 */
export function toPublicTask(r: TaskView, links?: OutputLinks): Task {
  return {
    id: r.id,
    object: 'task',
    type: r.type,
    model: r.model,
    provider: r.provider,
    status: r.status,
    progress: r.progress,
    outputs: publicOutputs(r, links),
    ...(r.outputsOmitted ? { outputs_omitted: r.outputsOmitted } : {}),
    error: r.error,
    upstream: { id: r.upstreamId, status: r.upstreamStatus },
    metadata: r.metadata,
    created_at: new Date(r.createdAt).toISOString(),
    updated_at: new Date(r.updatedAt).toISOString(),
    completed_at: iso(r.completedAt),
    cost: {
      currency: 'USD',
      estimated: r.cost?.estimated ?? null,
      charged: r.cost?.charged ?? null,
    },
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
