import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { GatewayKeys } from '../auth.js';
import type { GatewayApp, RouteDeps } from '../route-deps.js';
import { createImageRoute } from './create-image.js';
import { createVideoRoute } from './create-video.js';
import { deleteVideoRoute } from './delete-video.js';
import { registerOpenAIErrors } from './errors.js';
import { getVideoContentRoute } from './get-video-content.js';
import { getVideoRoute } from './get-video.js';
import { listVideosRoute } from './list-videos.js';
import { OPENAI_PREFIX } from './mapping.js';

/** Multipart caps: one reference image, a data: URL in a field, a handful of fields. */
export const MULTIPART_LIMITS = {
  fileSize: 20 * 1024 * 1024,
  files: 1,
  fieldSize: 28 * 1024 * 1024,
  fields: 16,
  parts: 20,
};

export const OPENAI_TAG = {
  name: 'openai-compatible',
  description:
    "OpenAI's `images/generations` and video-job (`videos`) routes at `/openai/v1`, for existing OpenAI clients (the official `openai` npm client with `baseURL: \"<genway>/openai/v1\"` and a gateway key as `apiKey`). Images and videos are genway tasks, scoped to the key's tenant; `model` is a genway model (or an alias). Errors use OpenAI's `{error:{message,type,param,code}}` envelope.",
};

/**
 * `/openai/v1`: OpenAI's image-generation and video-job API, backed by genway tasks.
 * Authenticated with a gateway key as the Bearer token. Multipart bodies (the SDK's
 * `videos.create`) are accepted in this scope only.
 */
export async function openaiSurface(app: GatewayApp, deps: RouteDeps): Promise<void> {
  await app.register(
    async (scope) => {
      const keys = new GatewayKeys(deps.config.tenants);
      registerOpenAIErrors(scope as unknown as FastifyInstance);
      await scope.register(fastifyMultipart, {
        attachFieldsToBody: 'keyValues',
        limits: MULTIPART_LIMITS,
      });
      if (!scope.hasRequestDecorator('tenant')) scope.decorateRequest('tenant', '');
      scope.addHook('onRequest', async (request) => {
        request.tenant = keys.authenticate(request);
      });
      for (const route of [
        createImageRoute,
        createVideoRoute,
        getVideoRoute,
        listVideosRoute,
        deleteVideoRoute,
        getVideoContentRoute,
      ]) {
        route(scope, deps);
      }
    },
    { prefix: OPENAI_PREFIX },
  );
}
