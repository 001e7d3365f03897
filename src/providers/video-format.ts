import type { VideoFormat, VideoWish } from '../domain/ports.js';

/**
 * What a video model takes to shape its frame and length (data, in each provider's models.ts),
 * and the pure mapping of a wish (OpenAI's `size` and `seconds`) to the closest of it.
 */
export interface VideoCaps {
  /** `aspect_ratio` values it takes (`16:9`); absent: it has no ratio control. */
  aspectRatios?: readonly string[];
  /** `resolution` values it takes (`720p`: the shorter side); absent: none. */
  resolutions?: readonly string[];
  /** The resolution it uses when none is sent (its durations may depend on it). */
  defaultResolution?: string;
  /** `width`/`height` in pixels, within these maxima and in steps of `multipleOf`. */
  frame?: { maxWidth: number; maxHeight: number; multipleOf: number };
  /** `duration` values (seconds), per resolution where they differ; `any`: any whole number. */
  durations?: readonly number[] | Readonly<Record<string, readonly number[]>> | 'any';
  /** What it always produces, where its frame or length cannot be asked for. */
  fixed?: { size?: string; seconds?: number };
}

/** Ratios and shorter sides that frames are described in when a model does not name its own. */
export const COMMON_RATIOS = ['16:9', '9:16', '1:1', '4:3', '3:4', '3:2', '2:3', '21:9'] as const;
export const STANDARD_RESOLUTIONS = ['360p', '480p', '540p', '720p', '1080p', '1440p', '2160p'];

/** Any ratio, resolution and length, passed as they are (the upstream validates them). */
export const OPEN_VIDEO_CAPS: VideoCaps = {
  aspectRatios: COMMON_RATIOS,
  resolutions: STANDARD_RESOLUTIONS,
  durations: 'any',
};

const ratioOf = (r: string) => {
  const [a = 1, b = 1] = r.split(':').map(Number);
  return a / b;
};
const shortSideOf = (resolution: string) => Number.parseInt(resolution, 10);

/** The first of `items` nearest by `distance` (ties: the one `prefer` ranks higher). */
function nearest<T>(items: readonly T[], distance: (t: T) => number, prefer?: (t: T) => number) {
  return items.reduce((best, t) => {
    const d = distance(t) - distance(best);
    return d < 0 || (d === 0 && prefer !== undefined && prefer(t) > prefer(best)) ? t : best;
  });
}

/** The listed ratio nearest to `ratio` (compared as logarithms, so 2:1 and 1:2 are as far from 1:1). */
export function nearestRatio(ratios: readonly string[], ratio: number): string {
  return nearest(ratios, (r) => Math.abs(Math.log(ratioOf(r) / ratio)));
}

/** The listed resolution whose shorter side is nearest to `side` (ties: the sharper). */
export function nearestResolution(resolutions: readonly string[], side: number): string {
  return nearest(resolutions, (r) => Math.abs(shortSideOf(r) - side), shortSideOf);
}

/** The listed duration nearest to `seconds` (ties: the longer). */
export function nearestDuration(durations: readonly number[], seconds: number): number {
  return nearest(
    durations,
    (d) => Math.abs(d - seconds),
    (d) => d,
  );
}

/** The frame of a ratio at a resolution: 16:9 at 720p → 1280x720, 9:16 at 1080p → 1080x1920. */
export function frameOf(ratio: string, resolution: string): string {
  const short = shortSideOf(resolution);
  const long = Math.round((short * Math.max(ratioOf(ratio), 1 / ratioOf(ratio))) / 2) * 2;
  return ratioOf(ratio) >= 1 ? `${long}x${short}` : `${short}x${long}`;
}

/** `width`x`height` shrunk (never grown) into the frame limits, in steps of `multipleOf`. */
export function fitFrame(
  width: number,
  height: number,
  { maxWidth, maxHeight, multipleOf: m }: NonNullable<VideoCaps['frame']>,
): { width: number; height: number } {
  const scale = Math.min(1, maxWidth / width, maxHeight / height);
  const fit = (v: number, max: number) =>
    Math.min(Math.floor(max / m) * m, Math.max(m, Math.round((v * scale) / m) * m));
  return { width: fit(width, maxWidth), height: fit(height, maxHeight) };
}

/**
 * The closest a model with `caps` comes to `wish`. The frame: width/height within its limits,
 * or its nearest ratio and resolution (what it cannot choose is described as the caller's own
 * nearest ratio or resolution). The length: its nearest duration at that resolution. Fields
 * the caller did not wish for are not sent (the model's defaults apply): never an invalid value.
 */
export function closestVideoFormat(caps: VideoCaps, wish: VideoWish): VideoFormat {
  const input: VideoFormat['input'] = {};
  let size: string | null = caps.fixed?.size ?? null;
  const { width, height } = wish;
  if (width !== undefined && height !== undefined && width > 0 && height > 0) {
    const ratio = width / height;
    const side = Math.min(width, height);
    if (caps.frame) {
      const fitted = fitFrame(width, height, caps.frame);
      Object.assign(input, fitted);
      size = `${fitted.width}x${fitted.height}`;
    } else if (caps.aspectRatios || caps.resolutions) {
      const chosenRatio = nearestRatio(caps.aspectRatios ?? COMMON_RATIOS, ratio);
      const chosenResolution = nearestResolution(caps.resolutions ?? STANDARD_RESOLUTIONS, side);
      if (caps.aspectRatios) input.aspect_ratio = chosenRatio;
      if (caps.resolutions) input.resolution = chosenResolution;
      size = frameOf(chosenRatio, chosenResolution);
    }
  }
  let seconds: number | null = caps.fixed?.seconds ?? null;
  if (wish.seconds !== undefined && caps.durations !== undefined) {
    const resolution = input.resolution ?? caps.defaultResolution ?? '';
    const durations =
      caps.durations === 'any'
        ? [wish.seconds]
        : Array.isArray(caps.durations)
          ? caps.durations
          : ((caps.durations as Readonly<Record<string, readonly number[]>>)[resolution] ?? []);
    if (durations.length > 0) {
      input.duration = nearestDuration(durations, wish.seconds);
      seconds = input.duration;
    }
  }
  return { input, size, seconds };
}
