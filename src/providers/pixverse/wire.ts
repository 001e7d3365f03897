import { z } from 'zod';

/**
 * PixVerse Platform API wire format (`/openapi/v2`), providers.md section 3. Every JSON answer
 * is `{ErrCode, ErrMsg, Resp}`; errors usually come as HTTP 200 with `ErrCode != 0`.
 */
export const PixverseEnvelopeSchema = z.looseObject({
  ErrCode: z.number().int(),
  ErrMsg: z.string().nullish(),
  Resp: z.unknown().optional(),
});
export type PixverseEnvelope = z.infer<typeof PixverseEnvelopeSchema>;

/** The upload spec's HTTP 500 (moderation) answer uses a lower-case envelope. */
export const PixverseLowerEnvelopeSchema = z.looseObject({
  err_code: z.number().int(),
  err_msg: z.string().nullish(),
  resp: z.unknown().optional(),
});

/** Ids are integers on the wire (12 digits for videos); kept as strings on tasks. */
const wireId = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]);

export const UploadRespSchema = z.looseObject({
  img_id: wireId.transform(Number),
  img_url: z.string().nullish(),
});

export const GenerateRespSchema = z.looseObject({
  video_id: wireId.transform(String),
});

export const ResultRespSchema = z.looseObject({
  id: wireId.transform(String).optional(),
  status: z.number().int(),
  url: z.string().nullish(),
  outputWidth: z.number().nullish(),
  outputHeight: z.number().nullish(),
  size: z.number().nullish(),
});
export type ResultResp = z.infer<typeof ResultRespSchema>;

/** Body of `POST /video/text/generate` and `POST /video/img/generate`. */
export interface PixverseGenerateBody {
  model: string;
  prompt: string;
  duration: number;
  quality: string;
  /** text-to-video only (required there). */
  aspect_ratio?: string;
  /** image-to-video only. */
  img_id?: number;
  negative_prompt?: string;
  seed?: number;
  motion_mode?: string;
  [passThrough: string]: unknown;
}
