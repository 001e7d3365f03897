import type { TaskRecord, WebhookDelivery } from '../domain/task-record.js';

/** A task row as the record is read back: `data`, and `history` (NULL in rows of older files). */
export interface TaskRow {
  data: string;
  history: string | null;
}

/** What `history` holds: what reads never render. */
interface History {
  changes: TaskRecord['changes'];
  /** The body of each webhook message, in the order of `webhook.deliveries`. */
  payloads: unknown[];
}

/** What `data` holds: the record without what `history` keeps. */
export function dataOf(task: TaskRecord): string {
  return JSON.stringify({
    ...task,
    changes: undefined,
    webhook: task.webhook && {
      ...task.webhook,
      deliveries: task.webhook.deliveries.map((d) => ({ ...d, payload: undefined })),
    },
  });
}

/** The parameters of an insert or update of `task`. */
export function rowOf(task: TaskRecord) {
  const deliveries = task.webhook?.deliveries ?? [];
  const history: History = { changes: task.changes, payloads: deliveries.map((d) => d.payload) };
  return {
    id: task.id,
    tenant: task.tenant,
    provider: task.provider,
    credentialId: task.credentialId,
    status: task.status,
    nextPollAt: task.nextPollAt,
    nextWebhookAt: task.nextWebhookAt ?? null,
    version: task.version,
    data: dataOf(task),
    history: JSON.stringify(history),
  };
}

/** The whole record of a row (a row of an older file has it all in `data`). */
export function recordOf(row: TaskRow): TaskRecord {
  const task = JSON.parse(row.data) as TaskRecord;
  if (row.history === null) return task;
  const history = JSON.parse(row.history) as History;
  task.changes = history.changes;
  task.webhook?.deliveries.forEach((d: WebhookDelivery, i) => {
    d.payload = history.payloads[i];
  });
  return task;
}
