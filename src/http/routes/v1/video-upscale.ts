import { VideoUpscaleRequestSchema } from '../../../contracts/create.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { registerCreateRoute } from './create-task.js';

export function videoUpscaleRoute(app: GatewayApp, deps: RouteDeps): void {
  registerCreateRoute(app, deps, {
    operation: 'video-upscale',
    body: VideoUpscaleRequestSchema,
    summary: 'Upscale a video',
    description:
      'Starts a video upscale. `video` is a URL or the id of one of your succeeded tasks (its first output is used).',
  });
}
