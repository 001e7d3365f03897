/**
 * The content type of a file from its first bytes (magic numbers), for the media kinds
 * generators produce. Undefined: not a recognised image, video or audio file, so genway does
 * not store or serve it as one, whatever the upstream's header said.
 */
export const SNIFF_BYTES = 16;

export function sniffContentType(head: Buffer): string | undefined {
  const at = (offset: number, ...bytes: number[]) =>
    head.length >= offset + bytes.length && bytes.every((b, i) => head[offset + i] === b);
  const ascii = (offset: number, text: string) =>
    head.length >= offset + text.length &&
    head.toString('latin1', offset, offset + text.length) === text;
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'image/gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'image/webp';
  if (ascii(0, 'RIFF') && ascii(8, 'WAVE')) return 'audio/wav';
  if (ascii(4, 'ftyp')) {
    const brand = head.toString('latin1', 8, 12);
    if (brand === 'qt  ') return 'video/quicktime';
    if (brand.startsWith('avi') || brand === 'mif1' || brand === 'msf1') return 'image/avif';
    if (brand.startsWith('heic') || brand === 'heix') return 'image/heic';
    if (brand.startsWith('M4A')) return 'audio/mp4';
    return 'video/mp4';
  }
  if (at(0, 0x1a, 0x45, 0xdf, 0xa3)) return 'video/webm';
  if (ascii(0, 'ID3') || at(0, 0xff, 0xfb) || at(0, 0xff, 0xf3)) return 'audio/mpeg';
  if (ascii(0, 'OggS')) return 'audio/ogg';
  return undefined;
}
