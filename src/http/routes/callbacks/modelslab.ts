import { z } from 'zod';
import type { GatewayApp } from '../../route-deps.js';
import { CALLBACK_BODY_LIMIT, callbackRequestOf, type CallbackRouteDeps } from './request.js';

/**
 * POST /callbacks/modelslab/{taskId}?token=…: ModelsLab's webhook for one task. ModelsLab signs
 * nothing; the per-task token in the URL is the credential (logs show the route pattern only).
 */
export function modelslabCallbackRoute(app: GatewayApp, deps: CallbackRouteDeps): void {
  app.post(
    '/modelslab/:taskId',
    {
      bodyLimit: CALLBACK_BODY_LIMIT,
      config: { logRouteOnly: true },
      schema: {
        hide: true,
        params: z.object({ taskId: z.string().min(1).max(64) }),
      },
    },
    async (request) => {
      const receipt = await deps.callbacks.receive(
        'modelslab',
        request.params.taskId,
        callbackRequestOf(request),
      );
      return { received: true, applied: receipt.applied };
    },
  );
}
