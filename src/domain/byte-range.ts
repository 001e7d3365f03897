import type { ByteRange } from './media-store.js';

/**
 * One HTTP byte range (`bytes=0-99`, `bytes=100-`, `bytes=-500`) of a file of `size` bytes.
 * Undefined: serve the whole file (no or unparsable header, several ranges); 'unsatisfiable':
 * 416. The end is clamped to the file, as RFC 9110 asks.
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
