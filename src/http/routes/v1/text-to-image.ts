import { TextToImageRequestSchema } from '../../../contracts/create.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { registerCreateRoute } from './create-task.js';

export function textToImageRoute(app: GatewayApp, deps: RouteDeps): void {
  registerCreateRoute(app, deps, {
    operation: 'text-to-image',
    body: TextToImageRequestSchema,
    summary: 'Generate images from a prompt',
    description:
      "Starts a text-to-image task on the model's provider. Limits of the chosen model (GET /v1/models) are checked before anything is spent.",
  });
}
