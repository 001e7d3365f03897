import { z } from 'zod';

/**
 * Wire format of Haiper video on the Cloudsway MaaS host (seed 002, providers.md section 4).
 * Answers are parsed loosely: Cloudsway may add fields, and only what genway reads is checked.
 */

/** `POST .../video/{generate|upscale|extend}` answers `{"taskId":"1234abcd"}`. */
export const HaiperCreateAnswerSchema = z.looseObject({
  taskId: z.union([z.string().min(1), z.number()]).transform(String),
});
export type HaiperCreateAnswer = z.infer<typeof HaiperCreateAnswerSchema>;

/** The documented task statuses; anything else is read as a string and reported as unknown. */
export const HAIPER_STATUSES = ['PENDING', 'IN_PROGRESS', 'SUCCESS', 'FAIL'] as const;
export type HaiperStatus = (typeof HAIPER_STATUSES)[number];

/**
 * `GET .../video/tasks/{taskId}` →
 * `{"status":"SUCCESS","mediaUrl":"https://...","expireTime":1724241996259,"progress":0.85}`.
 * `expireTime` is a millisecond epoch; `progress` runs 0 → 1.
 */
export const HaiperTaskAnswerSchema = z.looseObject({
  status: z.string().min(1),
  mediaUrl: z.string().nullish(),
  expireTime: z.number().nullish(),
  progress: z.number().nullish(),
});
export type HaiperTaskAnswer = z.infer<typeof HaiperTaskAnswerSchema>;

/**
 * Cloudsway documents no error body. Haiper's own API answers `{error:{message,code}}`, so that
 * is read when present, along with a bare `message` that proxies commonly send.
 */
export const HaiperErrorAnswerSchema = z.looseObject({
  error: z
    .union([
      z.looseObject({ message: z.unknown().optional(), code: z.unknown().optional() }),
      z.string(),
    ])
    .optional(),
  message: z.unknown().optional(),
});
export type HaiperErrorAnswer = z.infer<typeof HaiperErrorAnswerSchema>;

export type HaiperAspectRatio = '16:9' | '9:16' | '3:4' | '4:3' | '1:1';

/** Body of `POST .../video/generate` (text-to-video, or image-to-video with `sourceImage`). */
export interface HaiperGenerateBody {
  prompt: string;
  negativePrompt?: string;
  config?: { sourceImage: string };
  settings?: { seed?: number; duration?: number; aspectRatio?: string };
}

/** Body of `POST .../video/upscale`. */
export interface HaiperUpscaleBody {
  config: { sourceVideo: string };
}

/** Body of `POST .../video/extend`. */
export interface HaiperExtendBody {
  prompt?: string;
  negativePrompt?: string;
  config: { sourceVideo: string; extendDuration?: number };
  settings?: { seed?: number; guidanceScale?: number };
}

export type HaiperCreateBody = HaiperGenerateBody | HaiperUpscaleBody | HaiperExtendBody;

/** The path segment after `{basePath}/{endpointPath}/video/`. */
export type HaiperCreateRoute = 'generate' | 'upscale' | 'extend';
