import { VideoExtendRequestSchema } from '../../../contracts/create.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { registerCreateRoute } from './create-task.js';

export function videoExtendRoute(app: GatewayApp, deps: RouteDeps): void {
  registerCreateRoute(app, deps, {
    operation: 'video-extend',
    body: VideoExtendRequestSchema,
    summary: 'Extend a video',
    description:
      'Starts a video extension by `duration` seconds. `video` is a URL or the id of one of your succeeded tasks: its first output (a video) is used. A task id that is unknown or belongs to another tenant answers 404 `task_not_found`; a task that has not succeeded (or has no outputs) 409 `output_not_ready`; one whose first output is not a video 400; one whose output link has passed `expires_at` 410 `output_expired`.',
    extraProblems: [404, 409, 410],
  });
}
