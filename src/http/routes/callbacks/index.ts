import type { GatewayApp } from '../../route-deps.js';
import { modelslabCallbackRoute } from './modelslab.js';
import { pixverseCallbackRoute } from './pixverse.js';
import { replicateCallbackRoute } from './replicate.js';
import type { CallbackRouteDeps } from './request.js';

export type { CallbackRouteDeps } from './request.js';

/**
 * `POST /callbacks/{provider}/…`: webhooks of the upstreams (not of genway's clients). No
 * gateway key: each is authenticated by its per-task token or its signature, which covers the
 * exact bytes received, so this scope keeps every body as its raw text. Not in the OpenAPI
 * document (nothing but the upstreams calls these).
 */
export async function callbackRoutes(app: GatewayApp, deps: CallbackRouteDeps): Promise<void> {
  await app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
        done(null, body);
      });
      modelslabCallbackRoute(scope, deps);
      replicateCallbackRoute(scope, deps);
      pixverseCallbackRoute(scope, deps);
    },
    { prefix: '/callbacks' },
  );
}
