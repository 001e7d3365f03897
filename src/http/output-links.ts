import type { FastifyRequest } from 'fastify';
import type { Task } from '../contracts/task.js';
import {
  outputLinksKey,
  toPublicTask,
  type OutputLinks,
  type TaskView,
} from '../domain/task-record.js';
import type { RouteDeps } from './route-deps.js';
import { withJsonText } from './serialized.js';

/** genway's external origin for links: PUBLIC_URL, else the origin the request came to. */
export function publicBase(deps: Pick<RouteDeps, 'config'>, request: FastifyRequest): string {
  return deps.config.publicUrl ?? `${request.protocol}://${request.host}`;
}

/** Fresh signed links to stored outputs for this request (none when storage is off). */
export function outputLinks(
  deps: Pick<RouteDeps, 'config' | 'mediaLinks'>,
  request: FastifyRequest,
): OutputLinks | undefined {
  return deps.mediaLinks?.linksUnder(publicBase(deps, request));
}

/** The public task with links made for this request. */
export function presentTask(
  deps: Pick<RouteDeps, 'config' | 'mediaLinks'>,
  request: FastifyRequest,
  task: TaskView,
) {
  return toPublicTask(task, outputLinks(deps, request));
}

/** The last rendering of a shared view: its links and the public task (JSON text known). */
const rendered = new WeakMap<TaskView, { links: string; task: Task }>();

/**
 * presentTask for a task shared between reads and never changed (TaskStore.readView, the
 * shared read of waiters woken together): read again with the same links (the same origin,
 * within one link expiry step) it is neither rendered nor serialized again.
 */
export function presentView(
  deps: Pick<RouteDeps, 'config' | 'mediaLinks'>,
  request: FastifyRequest,
  task: TaskView,
): Task {
  const links = outputLinks(deps, request);
  const key = outputLinksKey(task, links);
  const kept = rendered.get(task);
  if (kept?.links === key) return kept.task;
  const view = toPublicTask(task, links);
  rendered.set(task, { links: key, task: withJsonText(view, JSON.stringify(view)) });
  return view;
}
