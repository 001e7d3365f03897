import fastifyMultipart from '@fastify/multipart';
import type { SurfaceRoutes } from '../surface.js';
import { createImageRoute } from './create-image.js';
import { createVideoRoute } from './create-video.js';
import { deleteVideoRoute } from './delete-video.js';
import { getVideoContentRoute } from './get-video-content.js';
import { getVideoRoute } from './get-video.js';
import { listVideosRoute } from './list-videos.js';
import { OPENAI_SURFACE } from './surface.js';

/** Multipart caps: one reference image, a data: URL in a field, a handful of fields. */
export const MULTIPART_LIMITS = {
  fileSize: 20 * 1024 * 1024,
  files: 1,
  fieldSize: 28 * 1024 * 1024,
  fields: 16,
  parts: 20,
};

/**
 * `/openai/v1`: OpenAI's image-generation and video-job API, backed by genway tasks.
 * Authenticated with a gateway key as the Bearer token. Multipart bodies (the SDK's
 * `videos.create`) are accepted in this scope only.
 */
export const openaiApi: SurfaceRoutes = {
  surface: OPENAI_SURFACE,
  mounted: true,
  async setup(scope) {
    await scope.register(fastifyMultipart, {
      attachFieldsToBody: 'keyValues',
      limits: MULTIPART_LIMITS,
    });
  },
  routes: [
    createImageRoute,
    createVideoRoute,
    getVideoRoute,
    listVideosRoute,
    deleteVideoRoute,
    getVideoContentRoute,
  ],
};
