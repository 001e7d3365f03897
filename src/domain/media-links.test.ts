import { describe, expect, it } from 'vitest';
import { MediaLinkSigner } from './media-links.js';

const KEY = Buffer.alloc(32, 1);
const parts = (url: string) => {
  const u = new URL(url);
  return {
    expires: u.searchParams.get('expires') ?? undefined,
    signature: u.searchParams.get('signature') ?? undefined,
  };
};

describe('MediaLinkSigner', () => {
  let now = 1_800_000_000_000;
  const signer = new MediaLinkSigner(KEY, 60_000, () => now);

  it('signs a link under the base that checks as ok until it expires', () => {
    const url = signer.sign('https://gw.example', 'task_1', 0, 'file');
    expect(url).toMatch(
      /^https:\/\/gw\.example\/media\/tasks\/task_1\/0\?expires=\d+&signature=[\w-]+$/,
    );
    const { expires, signature } = parts(url);
    expect(signer.check('task_1', 0, 'file', expires, signature)).toBe('ok');
    now += 61_000;
    expect(signer.check('task_1', 0, 'file', expires, signature)).toBe('expired');
  });

  it('refuses any change: task, index, variant, expiry, key', () => {
    const { expires, signature } = parts(signer.sign('https://gw', 'task_1', 0, 'file'));
    expect(signer.check('task_2', 0, 'file', expires, signature)).toBe('forged');
    expect(signer.check('task_1', 1, 'file', expires, signature)).toBe('forged');
    expect(signer.check('task_1', 0, 'poster', expires, signature)).toBe('forged');
    expect(signer.check('task_1', 0, 'file', String(Number(expires) + 1), signature)).toBe(
      'forged',
    );
    expect(signer.check('task_1', 0, 'file', expires, undefined)).toBe('forged');
    const other = new MediaLinkSigner(Buffer.alloc(32, 2), 60_000, () => now);
    expect(other.check('task_1', 0, 'file', expires, signature)).toBe('forged');
  });

  it('gives a fresh link on every read as time passes', () => {
    const a = signer.sign('https://gw', 'task_1', 0, 'file');
    now += 5000;
    expect(signer.sign('https://gw', 'task_1', 0, 'file')).not.toBe(a);
  });
});

describe('MediaLinkSigner expiry steps', () => {
  it('rounds the expiry up to a step: valid for at least the TTL, the same link within a step', () => {
    let now = 1_800_000_000_500;
    const ttlMs = 86_400_000; // a step of 60 s
    const signer = new MediaLinkSigner(KEY, ttlMs, () => now);
    const a = signer.sign('https://gw', 'task_1', 0, 'file');
    const expires = Number(parts(a).expires);
    expect(expires % 60).toBe(0);
    expect(expires * 1000).toBeGreaterThanOrEqual(now + ttlMs);
    expect(expires * 1000).toBeLessThan(now + ttlMs + 60_000);
    now += 1000;
    expect(signer.sign('https://gw', 'task_1', 0, 'file')).toBe(a);
    // The same signature under another origin; another output or variant has its own.
    expect(signer.sign('https://other', 'task_1', 0, 'file')).toBe(
      a.replace('https://gw', 'https://other'),
    );
    expect(parts(signer.sign('https://gw', 'task_1', 0, 'poster')).signature).not.toBe(
      parts(a).signature,
    );
    now = expires * 1000 - ttlMs + 1;
    const b = signer.sign('https://gw', 'task_1', 0, 'file');
    expect(b).not.toBe(a);
    expect(signer.check('task_1', 0, 'file', parts(b).expires, parts(b).signature)).toBe('ok');
  });
});
