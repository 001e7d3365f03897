import { PassThrough } from 'node:stream';
import { z } from 'zod';
import type { FollowedChange, FollowUpdate } from '../../../domain/task-follow.js';
import { problemResponses } from '../../problem.js';
import { outputLinks } from '../../output-links.js';
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
          ...problemResponses(400, 401, 404, 429),
        },
      },
    },
    async (request, reply) => {
      deps.held.hold(request.tenant, reply);
      const lastSeq = parseEventId(request.headers['last-event-id']) ?? request.query.last_event_id;
      const done = new AbortController();
      // Unknown and other tenants' tasks: a 404 problem before anything is streamed.
      const follow = await deps.tasks.follow(request.tenant, request.params.id, lastSeq, {
        signal: done.signal,
        quietMs: heartbeatMs,
        links: outputLinks(deps, request),
      });
      if (follow.finished) return reply.code(204).send(null);

      const out = new PassThrough();
      open.add(out);
      out.once('close', () => {
        open.delete(out);
        done.abort();
      });
      reply.raw.once('close', () => done.abort());
      void writeEvents(follow.updates, out).catch((err: unknown) => {
        request.log.warn({ err, taskId: request.params.id }, 'event stream ended by an error');
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

/**
 * Writes the task's changes to `out` as events (after the `retry:` line), with a `: ping`
 * comment when nothing was written for a heartbeat, until the updates end.
 */
async function writeEvents(updates: AsyncIterable<FollowUpdate>, out: PassThrough): Promise<void> {
  const write = (text: string) => {
    if (!out.writableEnded) out.write(text);
  };
  let first = true;
  for await (const update of updates) {
    if (first) write(`retry: ${RETRY_MS}\n\n`);
    first = false;
    if (update.quiet) write(': ping\n\n');
    for (const change of update.changes) write(eventText(change));
  }
  out.end();
}

const texts = new WeakMap<FollowedChange, string>();

/** The event of one change; followers told the same change share its text. */
function eventText(change: FollowedChange): string {
  let text = texts.get(change);
  if (text === undefined) {
    text = `id: ${change.seq}\nevent: ${change.kind}\ndata: ${JSON.stringify(change.task)}\n\n`;
    texts.set(change, text);
  }
  return text;
}

function parseEventId(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[value.length - 1] : value;
  if (text === undefined || !/^\s*\d{1,15}\s*$/.test(text)) return undefined;
  return Number(text);
}
