import { z } from 'zod';

/** Numbers ModelsLab sends either as numbers or as numeric strings (`"eta": "10"`). */
const looseNumber = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+(\.\d+)?$/)
    .transform(Number),
]);

/**
 * Every answer of the enterprise API (create, fetch, errors) shares this loose envelope.
 * `id` is an integer in captures and a string in newer docs; `output` may be `""`.
 */
export const ModelslabAnswerSchema = z.looseObject({
  status: z.string(),
  id: z.union([z.number(), z.string()]).transform(String).optional(),
  output: z
    .union([z.array(z.string()), z.literal(''), z.null()])
    .transform((o) => (Array.isArray(o) ? o : []))
    .optional(),
  future_links: z.array(z.string()).optional(),
  fetch_result: z.string().optional(),
  eta: looseNumber.optional(),
  retry_after: looseNumber.optional(),
  message: z.unknown().optional(),
  // Older answers spell it this way; both are read.
  messege: z.unknown().optional(),
  generationTime: looseNumber.optional(),
});
export type ModelslabAnswer = z.infer<typeof ModelslabAnswerSchema>;

/** Body of text2img / text2video, as the enterprise docs show it (numbers as strings). */
export interface ModelslabCreateBody {
  key: string;
  model_id: string;
  prompt: string;
  negative_prompt?: string | null;
  width?: string;
  height?: string;
  samples?: string;
  num_inference_steps?: string;
  guidance_scale?: number;
  scheduler?: string;
  seed?: number | null;
  [extra: string]: unknown;
}
