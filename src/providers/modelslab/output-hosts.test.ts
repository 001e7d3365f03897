import { describe, expect, it } from 'vitest';
import { isModelslabOutputUrl } from './mapping.js';

const ORIGIN = 'https://modelslab.com';

describe('ModelsLab output hosts', () => {
  it('trusts its own domains and the CDN hosts seen in its answers', () => {
    for (const url of [
      'https://modelslab.com/generations/a.png',
      'https://cdn2.stablediffusionapi.com/generations/a.png',
      'https://d1okzptojspljx.cloudfront.net/generations/a.png',
      'https://pub-3626123a908346a7a8be8d9295f44e26.r2.dev/generations/a.gif',
    ]) {
      expect(isModelslabOutputUrl(url, ORIGIN), url).toBe(true);
    }
  });

  it('does not trust CloudFront or R2 hosts anyone can create', () => {
    for (const url of [
      'https://dattackerowned.cloudfront.net/a.png',
      'https://pub-0123456789abcdef0123456789abcdef.r2.dev/a.png',
    ]) {
      expect(isModelslabOutputUrl(url, ORIGIN), url).toBe(false);
    }
  });
});
