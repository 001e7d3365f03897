import { ImageToVideoRequestSchema } from '../../../contracts/create.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { registerCreateRoute } from './create-task.js';

export function imageToVideoRoute(app: GatewayApp, deps: RouteDeps): void {
  registerCreateRoute(app, deps, {
    operation: 'image-to-video',
    body: ImageToVideoRequestSchema,
    summary: 'Animate an image into a video',
    description:
      'Starts an image-to-video task. `image` is an https URL or a data: URL; genway uploads it first where the provider needs that (PixVerse) or serves it under PUBLIC_URL where the provider needs a URL (Haiper).',
  });
}
