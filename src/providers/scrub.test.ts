import { describe, expect, it } from 'vitest';
import { scrub } from './http-client.js';

describe('scrub (upstream texts shown to callers)', () => {
  it('redacts secrets and the query of quoted URLs, keeping host and path', () => {
    const text =
      'key sk-123secret failed; https://cdn.example/a.png?sig=tok123&x=1, http://h/b#frag done';
    expect(scrub(text, ['sk-123secret'])).toBe(
      'key [redacted] failed; https://cdn.example/a.png?[redacted] http://h/b?[redacted] done',
    );
  });

  it('keeps at most 500 characters, whatever the length sent', () => {
    const out = scrub(`${'x'.repeat(100_000)} https://h/p?token=t0k`, []);
    expect(out.length).toBe(501);
    expect(out.endsWith('…')).toBe(true);
    expect(scrub('short', [])).toBe('short');
  });
});
