import type { Operation } from '../contracts/common.js';
import type { ResolvedModel } from './models.js';
import type { CallbackPlan, Credential } from './ports.js';
import type { TaskRecord, WebhookEvent, WebhookFormat } from './task-record.js';
import { callbackStateOf } from './task-transitions.js';

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
