import { describe, expect, it } from 'vitest';
import { sniffContentType } from './media-sniff.js';

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(
    parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))),
  );

describe('sniffContentType', () => {
  it('recognises images by their signatures', () => {
    expect(sniffContentType(bytes([0x89], 'PNG\r\n\x1a\n', 'rest'))).toBe('image/png');
    expect(sniffContentType(bytes([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
    expect(sniffContentType(bytes('GIF89a'))).toBe('image/gif');
    expect(sniffContentType(bytes('RIFF', [1, 2, 3, 4], 'WEBPVP8 '))).toBe('image/webp');
  });

  it('recognises videos by their container', () => {
    expect(sniffContentType(bytes([0, 0, 0, 0x20], 'ftypisom'))).toBe('video/mp4');
    expect(sniffContentType(bytes([0, 0, 0, 0x14], 'ftypqt  '))).toBe('video/quicktime');
    expect(sniffContentType(bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f]))).toBe('video/webm');
  });

  it('refuses text, HTML and short heads', () => {
    expect(sniffContentType(bytes('<!doctype html><html>'))).toBeUndefined();
    expect(sniffContentType(bytes('{"error":"gone"}'))).toBeUndefined();
    expect(sniffContentType(bytes([0x89, 0x50]))).toBeUndefined();
    expect(sniffContentType(Buffer.alloc(0))).toBeUndefined();
  });
});
