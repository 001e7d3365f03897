import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.js';
import { callerUrlsOf, checkCallerUrls, plainHttpErrors } from './caller-urls.js';

describe('callerUrlsOf', () => {
  it('takes image and video when they are http(s) URLs, not data: URLs or task ids', () => {
    expect(
      callerUrlsOf({ image: 'https://cdn.example.com/a.png', video: 'HTTP://v.example.com/c.mp4' }),
    ).toEqual([
      { field: 'image', url: 'https://cdn.example.com/a.png' },
      { field: 'video', url: 'HTTP://v.example.com/c.mp4' },
    ]);
    expect(callerUrlsOf({ image: 'data:image/png;base64,AAAA' })).toEqual([]);
    expect(callerUrlsOf({ video: 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B', prompt: 'http://x' })).toEqual(
      [],
    );
  });

  it('finds every http(s) string of a raw input, nested ones too, named by their path', () => {
    const raw = {
      prompt: 'a cat; see https://example.com in the text',
      first_frame_image: 'http://10.0.0.7/a.png',
      images: ['data:image/png;base64,AA', 'https://cdn.example.com/b.png'],
      style: { reference: 'https://169.254.169.254/latest' },
      steps: 30,
    };
    expect(callerUrlsOf({}, raw)).toEqual([
      { field: 'input.first_frame_image', url: 'http://10.0.0.7/a.png' },
      { field: 'input.images.1', url: 'https://cdn.example.com/b.png' },
      { field: 'input.style.reference', url: 'https://169.254.169.254/latest' },
    ]);
  });
});

describe('plainHttpErrors', () => {
  const urls = [
    { field: 'image', url: 'http://cdn.example.com/a.png' },
    { field: 'video', url: 'https://cdn.example.com/v.mp4' },
    { field: 'input.image', url: 'http://cdn.example.com/b.png' },
  ];

  it('refuses http:// except for the fields the upstream documents it for', () => {
    expect(plainHttpErrors(urls, [], 'pixverse')).toEqual([
      { path: 'image', message: 'pixverse needs an https:// URL here, not http://' },
      { path: 'input.image', message: 'pixverse needs an https:// URL here, not http://' },
    ]);
    expect(plainHttpErrors(urls, ['image', 'video'], 'haiper').map((e) => e.path)).toEqual([
      'input.image',
    ]);
  });
});

describe('checkCallerUrls', () => {
  const urls = [
    { field: 'input.a', url: 'https://ok.example.com/a.png' },
    { field: 'input.b', url: 'https://10.0.0.7/b.png' },
    { field: 'input.c', url: 'http://ok.example.com/c.png' },
    { field: 'input.d', url: 'https://127.0.0.1/d.png' },
  ];
  const target = { provider: 'replicate', adapter: {} };
  const checked: string[] = [];
  const check = async (field: string, url: string) => {
    checked.push(field);
    if (!url.includes('ok.example.com')) {
      throw GatewayError.invalid([{ path: field, message: 'private address' }]);
    }
  };

  it('lists every refused URL in one 400; an http one is not looked up at all', async () => {
    const err = await checkCallerUrls(urls, target, check).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).errors?.map((e) => e.path)).toEqual([
      'input.c',
      'input.b',
      'input.d',
    ]);
    expect(checked).toEqual(['input.a', 'input.b', 'input.d']);
  });

  it('passes when every URL is fine, and without a check only the scheme counts', async () => {
    await expect(checkCallerUrls([urls[0]!], target, check)).resolves.toBeUndefined();
    await expect(checkCallerUrls([urls[1]!], target, undefined)).resolves.toBeUndefined();
  });

  it('an unexpected failure of the check is not turned into a 400', async () => {
    const broken = async () => {
      throw new Error('store down');
    };
    await expect(checkCallerUrls([urls[0]!], target, broken)).rejects.toThrow('store down');
  });
});
