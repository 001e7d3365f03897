import { isIP } from 'node:net';
import { request } from 'undici';

/** How an emulator delivers the webhooks its jobs raise. */
export interface WebhookDeliveryOptions {
  /** false: webhooks are recorded as due but never POSTed (an upstream that lost them). */
  enabled?: boolean;
  /** Wait before the first POST of each webhook, in ms. Default 0. */
  delayMs?: number;
  /** POSTs per webhook: 2 or more sends duplicates (same body, same message id). Default 1. */
  copies?: number;
  /** Gap between two copies, in ms. Default 20. */
  copyGapMs?: number;
}

/** One webhook POST (or a refused / failed attempt), for tests to assert on. */
export interface SentWebhook {
  url: string;
  /** Lower-case header names, as sent. */
  headers: Record<string, string>;
  body: string;
  /** The receiver's HTTP status; null when nothing was answered (refused, network error). */
  status: number | null;
  /** The receiver's answer body (some upstreams expect a particular one, such as `ok`). */
  answer: string;
  /** Why no answer came: `refused: …` for targets off loopback, or the network error. */
  error?: string;
  at: number;
}

const TIMEOUT_MS = 10_000;

/**
 * Whether `url` is an http(s) URL on loopback (127.0.0.0/8, ::1, localhost). Emulators POST
 * webhooks only there: a fake upstream must never reach out to another host.
 */
export function isLoopbackUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./.test(host);
  return false;
}

/**
 * Delivers an emulator's webhooks (fire and forget, in the background): only to loopback,
 * after the configured delay, as many copies as configured; never follows redirects.
 * `headersFor` runs per POST, so each copy gets a fresh timestamp and signature.
 */
export class EmulatorWebhooks {
  readonly sent: SentWebhook[] = [];
  private options: Required<WebhookDeliveryOptions>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(options: WebhookDeliveryOptions = {}) {
    this.options = EmulatorWebhooks.withDefaults(options);
  }

  private static withDefaults(o: WebhookDeliveryOptions): Required<WebhookDeliveryOptions> {
    return {
      enabled: o.enabled ?? true,
      delayMs: o.delayMs ?? 0,
      copies: Math.max(1, o.copies ?? 1),
      copyGapMs: o.copyGapMs ?? 20,
    };
  }

  /** Changes how later webhooks are delivered (unset fields keep their current value). */
  configure(options: WebhookDeliveryOptions): void {
    this.options = EmulatorWebhooks.withDefaults({ ...this.options, ...options });
  }

  send(url: string, body: string, headersFor: () => Record<string, string>): void {
    if (this.closed || !this.options.enabled) return;
    const { delayMs, copies, copyGapMs } = this.options;
    for (let copy = 0; copy < copies; copy++) {
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          const attempt = this.post(url, body, headersFor()).finally(() => {
            this.inFlight.delete(attempt);
          });
          this.inFlight.add(attempt);
        },
        delayMs + copy * copyGapMs,
      );
      this.timers.add(timer);
    }
  }

  /** Resolves once every scheduled POST has been answered (or failed). */
  async idle(): Promise<void> {
    while (this.timers.size > 0 || this.inFlight.size > 0) {
      await Promise.all(this.inFlight);
      if (this.timers.size > 0) await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Drops scheduled POSTs (reset); those already sent finish. */
  cancelPending(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelPending();
    await Promise.all(this.inFlight);
  }

  private async post(url: string, body: string, headers: Record<string, string>): Promise<void> {
    const record: SentWebhook = { url, headers, body, status: null, answer: '', at: Date.now() };
    this.sent.push(record);
    if (!isLoopbackUrl(url)) {
      record.error = 'refused: emulators only call loopback addresses';
      return;
    }
    try {
      const res = await request(url, {
        method: 'POST',
        headers,
        body,
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
      record.status = res.statusCode;
      record.answer = (await res.body.text()).slice(0, 4096);
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
    }
  }
}
