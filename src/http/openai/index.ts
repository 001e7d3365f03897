import {
  PROMPT_FIELD_BYTES,
  SMALL_FIELD_BYTES,
  dataUrlBytes,
  registerMultipartGuard,
  type MultipartPolicy,
} from '../multipart-guard.js';
import type { SurfaceRoutes } from '../surface.js';
import { createImageRoute } from './create-image.js';
import { createVideoRoute } from './create-video.js';
import { deleteVideoRoute } from './delete-video.js';
import { getVideoContentRoute } from './get-video-content.js';
import { getVideoRoute } from './get-video.js';
import { listVideosRoute } from './list-videos.js';
import { OPENAI_SURFACE } from './surface.js';

/** The largest reference image a video create takes (as a file or a data: URL). */
export const INPUT_REFERENCE_MAX_BYTES = 20 * 1024 * 1024;

/**
 * Multipart bodies of this surface: one reference image (a file, or a data: URL in
 * `input_reference[image_url]`), a prompt, and a handful of small fields.
 */
export const MULTIPART_POLICY: MultipartPolicy = {
  files: { input_reference: INPUT_REFERENCE_MAX_BYTES },
  fieldBytes: {
    prompt: PROMPT_FIELD_BYTES,
    negative_prompt: PROMPT_FIELD_BYTES,
    input_reference: dataUrlBytes(INPUT_REFERENCE_MAX_BYTES),
    'input_reference[image_url]': dataUrlBytes(INPUT_REFERENCE_MAX_BYTES),
  },
  otherFieldBytes: SMALL_FIELD_BYTES,
  maxParts: 32,
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
    await registerMultipartGuard(scope, MULTIPART_POLICY);
  },
  routes: [createImageRoute, createVideoRoute, deleteVideoRoute],
  reads: [getVideoRoute, listVideosRoute, getVideoContentRoute],
};
