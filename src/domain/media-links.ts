import { createHmac, timingSafeEqual } from 'node:crypto';
import type { OutputLinks } from './task-record.js';

export type LinkVariant = 'file' | 'poster';

export type LinkCheck = 'ok' | 'expired' | 'forged';

/** Signatures kept for reuse (one per task output and variant); the oldest go first. */
const SIGNATURES_KEPT = 2048;

/**
 * Signed, expiring links to stored outputs: `<base>/media/tasks/<id>/<index>[/poster]
 * ?expires=<unix s>&signature=<base64url HMAC-SHA256>`. The signature covers the task, the
 * output, the variant and the expiry, so no part can be changed; links are made at render time.
 *
 * The expiry is rounded up to a step (1 % of the TTL, between 1 s and 60 s): a link is valid
 * for at least the TTL and less than the TTL plus one step, and reads within one step get the
 * same link, signed once (an HMAC per output per read was a visible share of a read's cost).
 */
export class MediaLinkSigner {
  private readonly now: () => number;
  private readonly stepS: number;
  private readonly signatures = new Map<string, { expires: number; signature: string }>();

  constructor(
    private readonly key: Buffer,
    private readonly ttlMs: number,
    now?: () => number,
  ) {
    this.now = now ?? Date.now;
    this.stepS = Math.min(60, Math.max(1, Math.round(ttlMs / 100_000)));
  }

  /** Links under `base` (PUBLIC_URL or the request's origin, without a trailing slash). */
  linksUnder(base: string): OutputLinks {
    return { link: (taskId, index, variant) => this.sign(base, taskId, index, variant) };
  }

  sign(base: string, taskId: string, index: number, variant: LinkVariant): string {
    const expires = Math.ceil((this.now() + this.ttlMs) / 1000 / this.stepS) * this.stepS;
    const signature = this.signature(taskId, index, variant, expires);
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

  /** The signature of a link, reused while its expiry stays the same. */
  private signature(taskId: string, index: number, variant: LinkVariant, expires: number) {
    const id = `${taskId}\n${index}\n${variant}`;
    const kept = this.signatures.get(id);
    if (kept?.expires === expires) return kept.signature;
    const signature = this.mac(taskId, index, variant, expires);
    this.signatures.delete(id);
    if (this.signatures.size >= SIGNATURES_KEPT) {
      this.signatures.delete(this.signatures.keys().next().value!);
    }
    this.signatures.set(id, { expires, signature });
    return signature;
  }

  private mac(taskId: string, index: number, variant: LinkVariant, expires: number): string {
    return createHmac('sha256', this.key)
      .update(`genway-media\n${taskId}\n${index}\n${variant}\n${expires}`)
      .digest('base64url');
  }
}
