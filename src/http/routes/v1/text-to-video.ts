import { TextToVideoRequestSchema } from '../../../contracts/create.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { registerCreateRoute } from './create-task.js';

export function textToVideoRoute(app: GatewayApp, deps: RouteDeps): void {
  registerCreateRoute(app, deps, {
    operation: 'text-to-video',
    body: TextToVideoRequestSchema,
    summary: 'Generate a video from a prompt',
    description:
      'Starts a text-to-video task. Videos take seconds to minutes: send `Prefer: wait=N`, long-poll GET /v1/tasks/{id}?wait=N, or ask for a webhook.',
  });
}
