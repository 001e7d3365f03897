import { z } from 'zod';
import type { GatewayApp } from '../../route-deps.js';
import {
  REPLICATE_CALLBACK_BODY_LIMIT,
  callbackRequestOf,
  type CallbackRouteDeps,
} from './request.js';

/** POST /callbacks/replicate/{taskId}: Replicate's signed webhook (Standard Webhooks) for one task. */
export function replicateCallbackRoute(app: GatewayApp, deps: CallbackRouteDeps): void {
  app.post(
    '/replicate/:taskId',
    {
      bodyLimit: REPLICATE_CALLBACK_BODY_LIMIT,
      schema: {
        hide: true,
        params: z.object({ taskId: z.string().min(1).max(64) }),
      },
    },
    async (request) => {
      const receipt = await deps.callbacks.receive(
        'replicate',
        request.params.taskId,
        callbackRequestOf(request),
      );
      return { received: true, applied: receipt.applied };
    },
  );
}
