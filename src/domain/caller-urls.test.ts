import { describe, expect, it } from 'vitest';
import { callerUrlsOf, plainHttpErrors } from './caller-urls.js';

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
