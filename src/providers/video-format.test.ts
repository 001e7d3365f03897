import { describe, expect, it } from 'vitest';
import {
  OPEN_VIDEO_CAPS,
  closestVideoFormat,
  fitFrame,
  frameOf,
  nearestDuration,
  nearestRatio,
  nearestResolution,
  type VideoCaps,
} from './video-format.js';

/** Every size and length the official OpenAI SDK offers. */
const SDK_SIZES = [
  [720, 1280],
  [1280, 720],
  [1024, 1792],
  [1792, 1024],
] as const;
const SDK_SECONDS = [4, 8, 12];

describe('the nearest of a list', () => {
  it('ratio: compared as logarithms; 1792x1024 (1.75) is 16:9', () => {
    const ratios = ['16:9', '9:16', '3:4', '4:3', '1:1'];
    expect(nearestRatio(ratios, 1280 / 720)).toBe('16:9');
    expect(nearestRatio(ratios, 1792 / 1024)).toBe('16:9');
    expect(nearestRatio(ratios, 1024 / 1792)).toBe('9:16');
    expect(nearestRatio(ratios, 1.1)).toBe('1:1');
    expect(nearestRatio(ratios, 1.3)).toBe('4:3');
  });

  it('resolution by the shorter side, ties to the sharper; duration ties to the longer', () => {
    const qualities = ['360p', '540p', '720p', '1080p'];
    expect(nearestResolution(qualities, 720)).toBe('720p');
    expect(nearestResolution(qualities, 1024)).toBe('1080p');
    expect(nearestResolution(qualities, 630)).toBe('720p');
    expect(nearestDuration([2, 4, 8], 3)).toBe(4);
    expect(nearestDuration([2, 4, 8], 12)).toBe(8);
    expect(nearestDuration([5, 8], 4)).toBe(5);
  });

  it('frames: a ratio at a resolution, and a size shrunk into limits in steps', () => {
    expect(frameOf('16:9', '720p')).toBe('1280x720');
    expect(frameOf('9:16', '1080p')).toBe('1080x1920');
    expect(frameOf('4:3', '720p')).toBe('960x720');
    expect(frameOf('1:1', '540p')).toBe('540x540');
    const limits = { maxWidth: 512, maxHeight: 512, multipleOf: 8 };
    expect(fitFrame(1280, 720, limits)).toEqual({ width: 512, height: 288 });
    expect(fitFrame(1024, 1792, limits)).toEqual({ width: 296, height: 512 });
    expect(fitFrame(256, 128, limits)).toEqual({ width: 256, height: 128 });
  });
});

describe('closestVideoFormat', () => {
  it('a ratio-and-duration model (Haiper): nearest ratio and duration, no resolution', () => {
    const caps: VideoCaps = {
      aspectRatios: ['16:9', '9:16', '3:4', '4:3', '1:1'],
      durations: [2, 4, 8],
    };
    expect(closestVideoFormat(caps, { width: 1792, height: 1024, seconds: 12 })).toEqual({
      input: { aspect_ratio: '16:9', duration: 8 },
      size: '1920x1080',
      seconds: 8,
    });
    expect(closestVideoFormat(caps, { width: 720, height: 1280, seconds: 4 })).toEqual({
      input: { aspect_ratio: '9:16', duration: 4 },
      size: '720x1280',
      seconds: 4,
    });
  });

  it('durations that depend on the resolution (PixVerse): those of the one chosen or defaulted', () => {
    const caps: VideoCaps = {
      aspectRatios: ['16:9', '4:3', '1:1', '3:4', '9:16'],
      resolutions: ['360p', '540p', '720p', '1080p'],
      defaultResolution: '540p',
      durations: { '360p': [5, 8], '540p': [5, 8], '720p': [5, 8], '1080p': [5] },
    };
    expect(closestVideoFormat(caps, { width: 1024, height: 1792, seconds: 8 })).toEqual({
      input: { aspect_ratio: '9:16', resolution: '1080p', duration: 5 },
      size: '1080x1920',
      seconds: 5,
    });
    expect(closestVideoFormat(caps, { seconds: 12 })).toEqual({
      input: { duration: 8 },
      size: null,
      seconds: 8,
    });
  });

  it('a width/height model (ModelsLab video): the size shrunk into its limits; no length', () => {
    const caps: VideoCaps = { frame: { maxWidth: 512, maxHeight: 512, multipleOf: 8 } };
    expect(closestVideoFormat(caps, { width: 1280, height: 720, seconds: 4 })).toEqual({
      input: { width: 512, height: 288 },
      size: '512x288',
      seconds: null,
    });
  });

  it('a model whose output is fixed: nothing sent, its own frame and length reported', () => {
    const caps: VideoCaps = { fixed: { size: '1280x720', seconds: 6 } };
    expect(closestVideoFormat(caps, { width: 720, height: 1280, seconds: 12 })).toEqual({
      input: {},
      size: '1280x720',
      seconds: 6,
    });
  });

  it('nothing wished: nothing sent, nothing reported (the model defaults apply)', () => {
    expect(closestVideoFormat(OPEN_VIDEO_CAPS, {})).toEqual({
      input: {},
      size: null,
      seconds: null,
    });
  });

  it('every SDK size and length maps to values the model lists', () => {
    const caps: VideoCaps = {
      aspectRatios: ['16:9', '9:16'],
      resolutions: ['540p', '720p'],
      durations: { '540p': [5], '720p': [5, 10] },
    };
    for (const [width, height] of SDK_SIZES) {
      for (const seconds of SDK_SECONDS) {
        const { input } = closestVideoFormat(caps, { width, height, seconds });
        expect(caps.aspectRatios).toContain(input.aspect_ratio);
        expect(caps.resolutions).toContain(input.resolution);
        expect((caps.durations as Record<string, number[]>)[input.resolution!]).toContain(
          input.duration,
        );
        expect(input.aspect_ratio).toBe(width > height ? '16:9' : '9:16');
      }
    }
  });
});
