import { OpenAIErrorSchema } from '../../contracts/openai.js';
import type { Surface } from '../surface.js';
import { openaiErrorResponses, renderOpenAIError, toOpenAIGatewayError } from './errors.js';
import { OPENAI_PREFIX } from './mapping.js';

/**
 * `/openai/v1` as a surface: OpenAI's `{error:{...}}` envelope (never problem+json), which also
 * knows the multipart parser's errors; the 401 wording and challenge of genway's own surface.
 */
export const OPENAI_SURFACE: Surface<typeof OpenAIErrorSchema> = {
  prefix: OPENAI_PREFIX,
  toError: toOpenAIGatewayError,
  render: renderOpenAIError,
  challenge: 'Bearer',
  authMessages: {
    missing: 'Send Authorization: Bearer <gateway key>',
    invalid: 'The gateway key is not valid',
  },
  errorDocs: { schema: OpenAIErrorSchema, mediaType: 'application/json' },
  errorResponses: openaiErrorResponses,
  tag: {
    name: 'openai-compatible',
    description:
      "OpenAI's `images/generations` and video-job (`videos`) routes at `/openai/v1`, for existing OpenAI clients (the official `openai` npm client with `baseURL: \"<genway>/openai/v1\"` and a gateway key as `apiKey`). Images and videos are genway tasks, scoped to the key's tenant; `model` is a genway model (or an alias). Errors use OpenAI's `{error:{message,type,param,code}}` envelope.",
  },
};
