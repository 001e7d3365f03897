import { VideoExtendRequestSchema } from '../../../contracts/create.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { registerCreateRoute } from './create-task.js';

export function videoExtendRoute(app: GatewayApp, deps: RouteDeps): void {
  registerCreateRoute(app, deps, {
    operation: 'video-extend',
    body: VideoExtendRequestSchema,
    summary: 'Extend a video',
    description:
      'Starts a video extension by `duration` seconds. `video` is a URL or the id of one of your succeeded tasks.',
  });
}
