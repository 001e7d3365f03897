import { registerMultipartGuard } from '../../multipart-guard.js';
import { NORMALIZED_SURFACE } from '../../problem.js';
import type { SurfaceRoutes } from '../../surface.js';
import { cancelTaskRoute } from './cancel-task.js';
import { deleteTaskRoute } from './delete-task.js';
import { getTaskOutputRoute } from './get-task-output.js';
import { getTaskRoute } from './get-task.js';
import { getUsageRoute } from './get-usage.js';
import { getWebhookSecretRoute } from './get-webhook-secret.js';
import { imageToVideoRoute } from './image-to-video.js';
import { listModelsRoute } from './list-models.js';
import { listTasksRoute } from './list-tasks.js';
import { taskEventsRoute } from './task-events.js';
import { textToImageRoute } from './text-to-image.js';
import { textToVideoRoute } from './text-to-video.js';
import { videoExtendRoute } from './video-extend.js';
import { videoUpscaleRoute } from './video-upscale.js';

/**
 * `/v1`, genway's own surface. Its routes spell their full path and the scope is not mounted
 * at the prefix: an unknown URL under `/v1` is the app's 404, answered without a key check.
 */
export const normalizedApi: SurfaceRoutes = {
  surface: NORMALIZED_SURFACE,
  mounted: false,
  // Multipart only where a route says so (image-to-video): elsewhere 415.
  setup: (scope) => registerMultipartGuard(scope),
  routes: [
    textToImageRoute,
    textToVideoRoute,
    imageToVideoRoute,
    videoUpscaleRoute,
    videoExtendRoute,
    cancelTaskRoute,
    deleteTaskRoute,
  ],
  reads: [
    getTaskRoute,
    taskEventsRoute,
    getTaskOutputRoute,
    listTasksRoute,
    listModelsRoute,
    getUsageRoute,
    getWebhookSecretRoute,
  ],
};
