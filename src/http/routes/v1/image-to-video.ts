import { ImageToVideoRequestSchema } from '../../../contracts/create.js';
import {
  PROMPT_FIELD_BYTES,
  SMALL_FIELD_BYTES,
  dataUrlBytes,
  type MultipartPolicy,
} from '../../multipart-guard.js';
import type { GatewayApp, RouteDeps } from '../../route-deps.js';
import { registerCreateRoute } from './create-task.js';

/** The largest image an image-to-video create takes, as a file part or decoded from data:. */
export const IMAGE_INPUT_MAX_BYTES = 10 * 1024 * 1024;

/** JSON bodies carry that image as a base64 data: URL, next to small fields. */
export const IMAGE_TO_VIDEO_BODY_LIMIT = dataUrlBytes(IMAGE_INPUT_MAX_BYTES) + 1024 * 1024;

const FORM_POLICY: MultipartPolicy = {
  files: { image: IMAGE_INPUT_MAX_BYTES },
  fieldBytes: {
    image: dataUrlBytes(IMAGE_INPUT_MAX_BYTES),
    prompt: PROMPT_FIELD_BYTES,
    negative_prompt: PROMPT_FIELD_BYTES,
  },
  otherFieldBytes: SMALL_FIELD_BYTES,
  maxParts: 48,
};

export function imageToVideoRoute(app: GatewayApp, deps: RouteDeps): void {
  registerCreateRoute(app, deps, {
    operation: 'image-to-video',
    body: ImageToVideoRequestSchema,
    summary: 'Animate an image into a video',
    description:
      'Starts an image-to-video task. `image` is an https URL or a data: URL (up to 10 MB decoded); genway uploads it first where the provider needs that (PixVerse) or serves it under PUBLIC_URL where the provider needs a URL (Haiper). As multipart/form-data, `image` is an image file part (PNG, JPEG, WebP or GIF, up to 10 MB) and the other fields are form fields (numbers as text, nested keys bracketed: `metadata[k]`, `provider_options[k]`); a prompt may have 10,000 characters, other fields 4 KB, a body 48 parts. Over a cap: 413.',
    bodyLimit: IMAGE_TO_VIDEO_BODY_LIMIT,
    form: { policy: FORM_POLICY, numericFields: ['duration', 'seed'], imageFields: ['image'] },
  });
}
