import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TEXT_TO_IMAGE,
  DEFAULT_VIDEO,
  ReplicateCatalogue,
  parseModelRef,
} from './models.js';

const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
const SDXL = '7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc';

describe('parseModelRef', () => {
  it('reads owner/name:version, owner/name and a bare version id', () => {
    expect(parseModelRef(`stability-ai/stable-diffusion:${SD}`)).toEqual({
      model: 'stability-ai/stable-diffusion',
      version: SD,
    });
    expect(parseModelRef('black-forest-labs/flux-schnell')).toEqual({
      model: 'black-forest-labs/flux-schnell',
    });
    expect(parseModelRef(SD)).toEqual({ version: SD });
  });

  it('refuses anything else', () => {
    for (const bad of [
      '',
      'owner',
      'owner/',
      '/name',
      'a/b/c',
      'owner/name:',
      'owner/name:abc',
      `owner/name:${SD.toUpperCase()}`,
      'own er/name',
      '../x/y',
      `${SD}0`,
    ]) {
      expect(parseModelRef(bad), bad).toBeUndefined();
    }
  });
});

describe('ReplicateCatalogue', () => {
  it('lists the defaults: SD as default text-to-image, minimax/video-01 as default video', () => {
    const models = new ReplicateCatalogue([]).models();
    expect(models.map((m) => m.name)).toEqual([
      DEFAULT_TEXT_TO_IMAGE,
      'black-forest-labs/flux-schnell',
      DEFAULT_VIDEO,
    ]);
    expect(models[0]).toMatchObject({ operations: ['text-to-image'], isDefault: true });
    expect(models[2]).toMatchObject({
      operations: ['text-to-video', 'image-to-video'],
      isDefault: true,
    });
    expect(models[1]?.isDefault).toBeUndefined();
  });

  it('adds REPLICATE_MODELS entries first; @video and @image set the operations', () => {
    const c = new ReplicateCatalogue([
      `stability-ai/sdxl:${SDXL}`,
      'someone/wan-video@video',
      'minimax/video-01@image',
    ]);
    const names = c.models().map((m) => m.name);
    expect(names.slice(0, 3)).toEqual([
      `stability-ai/sdxl:${SDXL}`,
      'someone/wan-video',
      'minimax/video-01',
    ]);
    expect(names.filter((n) => n === 'minimax/video-01')).toHaveLength(1);
    expect(c.describe('someone/wan-video')?.operations).toEqual([
      'text-to-video',
      'image-to-video',
    ]);
    expect(c.describe(`someone/wan-video:${SD}`)?.operations).toContain('text-to-video');
    expect(c.describe('minimax/video-01')?.operations).toEqual(['text-to-image']);
    expect(c.isVideo('someone/wan-video')).toBe(true);
  });

  it('names REPLICATE_MODELS for entries that are not model references', () => {
    expect(() => new ReplicateCatalogue(['ok/model', 'not a model', 'x/y@audio'])).toThrow(
      /REPLICATE_MODELS: "not a model"[\s\S]*REPLICATE_MODELS: "x\/y@audio"/,
    );
  });

  it('describes any well-formed reference, and nothing else', () => {
    const c = new ReplicateCatalogue([`stability-ai/sdxl:${SDXL}`]);
    expect(c.describe('anyone/any-model')).toMatchObject({
      name: 'anyone/any-model',
      operations: ['text-to-image'],
    });
    expect(c.describe('lucataco/animate-diff')?.operations).toEqual([
      'text-to-video',
      'image-to-video',
    ]);
    // A bare version id of a listed model is that model.
    expect(c.describe(SDXL)).toMatchObject({ name: `stability-ai/sdxl:${SDXL}`, isDefault: false });
    expect(c.describe('f'.repeat(64))?.name).toBe('f'.repeat(64));
    expect(c.describe('bad ref')).toBeUndefined();
  });
});
