import type { FastifyRequest } from 'fastify';
import { toPublicTask, type OutputLinks, type TaskView } from '../domain/task-record.js';
import type { RouteDeps } from './route-deps.js';

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
