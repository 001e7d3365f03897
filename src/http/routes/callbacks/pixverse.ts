import type { GatewayApp } from '../../route-deps.js';
import { CALLBACK_BODY_LIMIT, callbackRequestOf, type CallbackRouteDeps } from './request.js';

/**
 * POST /callbacks/pixverse: the URL set for the webhook_id in PixVerse's console (the same for
 * every task). PixVerse wants `200` with the body `ok`, or it retries for hours.
 */
export function pixverseCallbackRoute(app: GatewayApp, deps: CallbackRouteDeps): void {
  app.post(
    '/pixverse',
    { bodyLimit: CALLBACK_BODY_LIMIT, schema: { hide: true } },
    async (request, reply) => {
      await deps.callbacks.receive('pixverse', undefined, callbackRequestOf(request));
      return reply.type('text/plain; charset=utf-8').send('ok');
    },
  );
}
