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
