import { createHmac, timingSafeEqual } from 'node:crypto';
import type { OutputLinks } from './task-record.js';

export type LinkVariant = 'file' | 'poster';

export type LinkCheck = 'ok' | 'expired' | 'forged';

/**
 * Signed, expiring links to stored outputs: `<base>/media/tasks/<id>/<index>[/poster]
 * ?expires=<unix s>&signature=<base64url HMAC-SHA256>`. The signature covers the task, the
 * output, the variant and the expiry, so no part can be changed; links are made at render time.
 */
export class MediaLinkSigner {
  private readonly now: () => number;

  constructor(
    private readonly key: Buffer,
    private readonly ttlMs: number,
    now?: () => number,
  ) {
    this.now = now ?? Date.now;
  }

  /** Links under `base` (PUBLIC_URL or the request's origin, without a trailing slash). */
  linksUnder(base: string): OutputLinks {
    return { link: (taskId, index, variant) => this.sign(base, taskId, index, variant) };
  }

  sign(base: string, taskId: string, index: number, variant: LinkVariant): string {
    const expires = Math.ceil((this.now() + this.ttlMs) / 1000);
    const signature = this.mac(taskId, index, variant, expires);
    const path = `/media/tasks/${encodeURIComponent(taskId)}/${index}${variant === 'poster' ? '/poster' : ''}`;
    return `${base}${path}?expires=${expires}&signature=${signature}`;
  }

  check(
    taskId: string,
    index: number,
    variant: LinkVariant,
    expires: string | undefined,
    signature: string | undefined,
  ): LinkCheck {
    if (!expires || !/^\d{1,12}$/.test(expires) || !signature) return 'forged';
    const expected = Buffer.from(this.mac(taskId, index, variant, Number(expires)));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'forged';
    return Number(expires) * 1000 < this.now() ? 'expired' : 'ok';
  }

  private mac(taskId: string, index: number, variant: LinkVariant, expires: number): string {
    return createHmac('sha256', this.key)
      .update(`genway-media\n${taskId}\n${index}\n${variant}\n${expires}`)
      .digest('base64url');
  }
}
