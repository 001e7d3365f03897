import type { Operation } from '../contracts/common.js';
import type { ResolvedModel } from './models.js';
import type { CredentialPool } from './credential-pool.js';
import type { CallbackPlan, Credential } from './ports.js';
import type { TaskRecord, WebhookEvent, WebhookFormat } from './task-record.js';
import { callbackStateOf } from './task-transitions.js';
import type { TaskWriter } from './task-writer.js';

/** What a create knows of its task before the upstream is called. */
export interface NewTask {
  id: string;
  tenant: string;
  operation: Operation;
  model: ResolvedModel;
  credential: Credential;
  metadata: Record<string, string> | undefined;
  webhook: { url: string; events: WebhookEvent[]; format?: WebhookFormat } | undefined;
  callbackPlan: CallbackPlan | undefined;
  now: number;
  keyId: string | null;
  /** The estimate; undefined: the gateway prices nothing (no `cost` kept). */
  estimated: number | null | undefined;
  deadlineAt: number | null;
}

/** A task as stored before its upstream job is started. */
export function queuedTask(t: NewTask): TaskRecord {
  return {
    id: t.id,
    tenant: t.tenant,
    type: t.operation,
    model: t.model.publicId,
    provider: t.model.provider,
    status: 'queued',
    progress: null,
    outputs: [],
    error: null,
    upstreamId: null,
    upstreamStatus: null,
    metadata: t.metadata ?? {},
    createdAt: t.now,
    updatedAt: t.now,
    completedAt: null,
    credentialId: t.credential.id,
    upstreamState: callbackStateOf(t.callbackPlan),
    nextPollAt: null,
    pollAttempts: 0,
    lastContactAt: t.now,
    ...(t.deadlineAt !== null ? { deadlineAt: t.deadlineAt } : {}),
    version: 1,
    changeSeq: 0,
    changes: [],
    webhook: t.webhook
      ? {
          url: t.webhook.url,
          events: t.webhook.events,
          ...(t.webhook.format ? { format: t.webhook.format } : {}),
          deliveries: [],
        }
      : null,
    nextWebhookAt: null,
    ...(t.keyId ? { keyId: t.keyId } : {}),
    ...(t.estimated !== undefined ? { cost: { estimated: t.estimated, charged: null } } : {}),
  };
}

/**
 * Takes an in-flight slot on a usable credential of `pool` and stores the queued task on it;
 * 429 upstream_rate_limited / 503 no_credential_available before any upstream call. The task
 * id holds the slot. In cluster mode the insert takes the slot over every instance itself
 * where it can (one store round trip); when the credential turns out full there, or
 * otherwise, the usual way: a slot reserved (waiting for one if all are at their cap; in
 * cluster mode a reservation until the task is stored), then the insert.
 */
export async function storeQueued(
  writer: TaskWriter,
  pool: CredentialPool,
  tenant: string,
  taskId: string,
  queuedOn: (credential: Credential) => TaskRecord,
  /** Names the task on its Idempotency-Key before it is stored (TaskStarter.create). */
  reserveKey?: (taskId: string) => Promise<void>,
): Promise<{ task: TaskRecord; credential: Credential }> {
  const giveBack = (credentialId: string, holder?: string) => {
    pool.release(credentialId, tenant, holder);
    pool.reportOutcome(credentialId, 'neutral');
  };
  const quick = writer.insertsWithinCap ? pool.takeForInsert(tenant) : undefined;
  if (quick) {
    const task = queuedOn(quick.credential);
    let stored: boolean;
    try {
      await reserveKey?.(taskId);
      stored = await writer.insertWithinCap(task, quick.cap);
    } catch (err) {
      giveBack(quick.credential.id);
      throw err;
    }
    if (stored) return { task, credential: quick.credential };
    giveBack(quick.credential.id);
    reserveKey = undefined; // named already
  }
  const credential = await pool.reserve(tenant, undefined, taskId);
  const task = queuedOn(credential);
  try {
    await reserveKey?.(taskId);
    await writer.insert(task);
  } catch (err) {
    giveBack(credential.id, taskId);
    throw err;
  }
  return { task, credential };
}
