import { PassThrough } from 'node:stream';
import { z } from 'zod';
import type { Task } from '../../../contracts/task.js';
import type { TaskService } from '../../../domain/task-service.js';
import {
  isTerminal,
  toPublicTask,
  type TaskChange,
  type TaskRecord,
} from '../../../domain/task-record.js';
import { problemResponses } from '../../problem.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { TaskIdParams } from './get-task.js';

/** Reconnection delay suggested to EventSource clients (`retry:` field). */
const RETRY_MS = 2000;

const EVENTS_DESCRIPTION = [
  'Server-Sent Events (`text/event-stream`): one event per status or progress change of the task, then the stream ends after a terminal status (`succeeded`, `failed`, `canceled`).',
  '',
  "Each event has `id: <n>` (the task's change number, strictly increasing by 1 per change), `event: task.status` (the status changed; also the first event of a stream) or `event: task.progress` (only `progress` changed), and `data:` the task as JSON, as `GET /v1/tasks/{id}` returns it, as of that change.",
  '',
  "Without `Last-Event-ID` the stream starts with the current state of the task. On reconnect, send the last `id` you received as the `Last-Event-ID` header (browsers' EventSource does this by itself) or as `?last_event_id=`: every change after it is sent, in order, without duplicates; if more changes happened than genway keeps (the last 50), the current state is sent instead. A comment line `: ping` is sent every 15 s (`SSE_HEARTBEAT_MS`) while nothing changes. The stream never calls the provider: genway polls it once for all readers.",
].join('\n');

const SSE_EXAMPLE = [
  'retry: 2000',
  '',
  'id: 3',
  'event: task.status',
  'data: {"id":"task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B","object":"task","status":"running","progress":0.25,"...":"..."}',
  '',
  'id: 4',
  'event: task.progress',
  'data: {"id":"task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B","object":"task","status":"running","progress":0.5,"...":"..."}',
  '',
  ': ping',
  '',
  'id: 5',
  'event: task.status',
  'data: {"id":"task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B","object":"task","status":"succeeded","progress":1,"...":"..."}',
  '',
  '',
].join('\n');

const EventStreamResponse = z.unknown().meta({
  description: 'The event stream; it ends after the event carrying a terminal status',
  content: { 'text/event-stream': { schema: { type: 'string' }, example: SSE_EXAMPLE } },
});

const NothingMoreResponse = z.null().meta({
  description:
    'Last-Event-ID is already the final event of a finished task: nothing more will come (EventSource stops reconnecting)',
});

/** `GET /v1/tasks/{id}/events`: the task's changes as Server-Sent Events. */
export function taskEventsRoute(app: GatewayApp, deps: RouteDeps): void {
  const heartbeatMs = deps.config.limits.sseHeartbeatMs;
  // Open streams end when the app closes, or they would hold the server open.
  const open = new Set<PassThrough>();
  // The followers of one task wake together: they share one store read and its events.
  const reads = new SharedReads((id) => deps.store.get(id));
  app.addHook('preClose', async () => {
    for (const stream of open) stream.end();
  });

  app.get(
    '/v1/tasks/:id/events',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Follow a task (Server-Sent Events)',
        description: EVENTS_DESCRIPTION,
        security: [{ gatewayKey: [] }],
        params: TaskIdParams,
        querystring: z.object({
          last_event_id: z.coerce.number().int().min(0).optional().meta({
            description:
              'Resume after this event id (for clients that cannot send the `Last-Event-ID` header; the header wins)',
          }),
        }),
        headers: z.looseObject({
          'last-event-id': z.string().max(64).optional().meta({
            description: 'The last event id received; the stream resumes after it',
            example: '4',
          }),
        }),
        response: {
          200: EventStreamResponse,
          204: NothingMoreResponse,
          ...problemResponses(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      // Unknown and other tenants' tasks: a 404 problem before anything is streamed.
      const task = await deps.tasks.get(request.tenant, request.params.id);
      const resumeAfter =
        parseEventId(request.headers['last-event-id']) ?? request.query.last_event_id;
      if (resumeAfter !== undefined && resumeAfter === task.changeSeq && isTerminal(task.status)) {
        return reply.code(204).send(null);
      }

      const out = new PassThrough();
      const done = new AbortController();
      open.add(out);
      out.once('close', () => {
        open.delete(out);
        done.abort();
      });
      reply.raw.once('close', () => done.abort());
      void follow({
        tasks: deps.tasks,
        reads,
        tenant: request.tenant,
        id: task.id,
        resumeAfter,
        out,
        signal: done.signal,
        heartbeatMs,
      }).catch((err: unknown) => {
        request.log.warn({ err, taskId: task.id }, 'event stream ended by an error');
        out.end();
      });
      return reply
        .code(200)
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('x-accel-buffering', 'no')
        .send(out);
    },
  );
}

interface Follow {
  tasks: TaskService;
  /** Store reads shared by the followers woken by the same change. */
  reads: SharedReads;
  tenant: string;
  id: string;
  resumeAfter: number | undefined;
  out: PassThrough;
  signal: AbortSignal;
  heartbeatMs: number;
}

/**
 * Writes the task's changes to `out` until a terminal status is sent or the client leaves.
 * Sleeps on the in-process change notifications (one waiter and one timer, the heartbeat);
 * the store is re-read only when woken.
 */
async function follow(f: Follow): Promise<void> {
  const { tasks, tenant, id, out, signal, heartbeatMs } = f;
  let registered = 0;
  const listen = (timeoutMs: number) => {
    registered = f.reads.mark();
    return tasks.nextChange(id, timeoutMs, signal);
  };
  const current = async () => {
    const record = await f.reads.read(id, registered);
    // Deleted (or, impossibly, another tenant's) since the stream began: nothing more to say.
    if (!record || record.tenant !== tenant || record.deletedAt) return undefined;
    return record;
  };
  let lastWrite = Date.now();
  const write = (text: string) => {
    if (out.writableEnded) return;
    out.write(text);
    lastWrite = Date.now();
  };
  // Registered before each read of the task, so that a change in between wakes us.
  let wake = listen(heartbeatMs);
  let task = await current();
  if (!task) return void out.end();
  // An id from the future (another task's, a typo) counts as no id: the current state.
  const resume =
    f.resumeAfter !== undefined && f.resumeAfter <= task.changeSeq ? f.resumeAfter : undefined;
  write(`retry: ${RETRY_MS}\n\n`);
  let lastSeq = resume ?? -1;
  for (;;) {
    for (const event of eventsSince(task, lastSeq)) {
      write(event.text);
      lastSeq = event.seq;
    }
    if (isTerminal(task.status) || signal.aborted) break;
    await wake;
    if (signal.aborted) break;
    if (Date.now() - lastWrite >= heartbeatMs - 5) write(': ping\n\n');
    wake = listen(Math.max(1, heartbeatMs - (Date.now() - lastWrite)));
    const fresh = await current();
    if (!fresh) break;
    task = fresh;
  }
  out.end();
}

interface OutEvent {
  seq: number;
  text: string;
}

const formatted = new WeakMap<TaskRecord, Map<number, OutEvent[]>>();

/**
 * The events a client that last saw change `lastSeq` (-1: none) still needs: every later
 * change from the task's history, or the current state alone when the history no longer
 * reaches back that far (or when it is the client's first connection).
 */
function eventsSince(task: TaskRecord, lastSeq: number): OutEvent[] {
  if (lastSeq >= 0 && task.changeSeq <= lastSeq) return [];
  // Followers sharing a read share the serialised events too.
  let byLastSeq = formatted.get(task);
  if (!byLastSeq) formatted.set(task, (byLastSeq = new Map()));
  let events = byLastSeq.get(lastSeq);
  if (!events) byLastSeq.set(lastSeq, (events = computeEventsSince(task, lastSeq)));
  return events;
}

function computeEventsSince(task: TaskRecord, lastSeq: number): OutEvent[] {
  const history = task.changes;
  const oldest = history[0];
  const covered = lastSeq >= 0 && oldest !== undefined && oldest.seq <= lastSeq + 1;
  if (!covered) return [format(task.changeSeq, 'task.status', toPublicTask(task))];
  const events: OutEvent[] = [];
  let prev: TaskChange | undefined;
  for (const change of history) {
    if (change.seq > lastSeq) {
      const name = !prev || prev.status !== change.status ? 'task.status' : 'task.progress';
      const data = change.seq === task.changeSeq ? toPublicTask(task) : asOf(task, change);
      events.push(format(change.seq, name, data));
    }
    prev = change;
  }
  return events;
}

/** The task as of an earlier change (not the last one, so never terminal). */
function asOf(task: TaskRecord, change: TaskChange): Task {
  return {
    ...toPublicTask(task),
    status: change.status,
    progress: change.progress,
    outputs: [],
    error: null,
    updated_at: new Date(change.at).toISOString(),
    completed_at: null,
  };
}

function format(seq: number, name: string, data: Task): OutEvent {
  return { seq, text: `id: ${seq}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n` };
}

function parseEventId(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[value.length - 1] : value;
  if (text === undefined || !/^\s*\d{1,15}\s*$/.test(text)) return undefined;
  return Number(text);
}

/**
 * One store read per task for the followers woken together. A follower joins a read under
 * way only if that read began after it registered for wake-ups (`mark`), so it never gets a
 * state older than a change it was not woken for.
 */
class SharedReads {
  private clock = 0;
  private readonly inFlight = new Map<
    string,
    { began: number; record: Promise<TaskRecord | undefined> }
  >();

  constructor(private readonly get: (id: string) => Promise<TaskRecord | undefined>) {}

  /** Call right before registering for wake-ups; hand the value to `read`. */
  mark(): number {
    return ++this.clock;
  }

  read(id: string, registeredAt: number): Promise<TaskRecord | undefined> {
    const pending = this.inFlight.get(id);
    if (pending && pending.began > registeredAt) return pending.record;
    const entry = { began: ++this.clock, record: this.get(id) };
    this.inFlight.set(id, entry);
    const done = () => {
      if (this.inFlight.get(id) === entry) this.inFlight.delete(id);
    };
    entry.record.then(done, done);
    return entry.record;
  }
}
