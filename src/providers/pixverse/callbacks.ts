import { createHmac, timingSafeEqual } from 'node:crypto';
import type * as port from '../../domain/ports.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { resultToSnapshot } from './mapping.js';
import { ResultRespSchema } from './wire.js';

/** Signatures older (or further ahead) than this are refused: a replayed capture is stale. */
export const TIMESTAMP_TOLERANCE_S = 5 * 60;

/**
 * The signed text of a PixVerse webhook: `"{timestamp}\n{nonce}\n{urlencoded body fields}"`
 * (providers.md section 3). The docs say "urlencoded body fields" and that booleans are
 * `true`/`false`; the field order is not stated. UNCONFIRMED, chosen here: the top-level
 * fields sorted by name, form-urlencoded (`a=1&b=x+y`), numbers as JSON writes them, null as
 * an empty value, objects as JSON.
 */
export function pixverseSignedText(
  timestamp: string,
  nonce: string,
  body: Record<string, unknown>,
): string {
  const form = new URLSearchParams();
  for (const key of Object.keys(body).sort()) {
    const value = body[key];
    form.append(
      key,
      value === null || value === undefined
        ? ''
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value),
    );
  }
  return `${timestamp}\n${nonce}\n${form.toString()}`;
}

/** `Webhook-Signature`: base64(HMAC-SHA256(secret, signed text)). */
export function pixverseSignature(secret: string, signedText: string): string {
  return createHmac('sha256', secret).update(signedText, 'utf8').digest('base64');
}

/**
 * PixVerse webhooks: a `webhook_id` created in PixVerse's console (with its URL,
 * `{PUBLIC_URL}/callbacks/pixverse`, and its secret) is sent on creates; PixVerse POSTs
 * `{id, status, url, ...}` signed with `Webhook-Timestamp`, `Webhook-Nonce` and
 * `Webhook-Signature`, and wants `200 ok` back (else it retries for hours). The URL is the
 * same for every task: the task is found by the video id of the verified body.
 */
export class PixverseCallbacks implements port.UpstreamCallbacks {
  readonly routing = 'upstream-id';

  constructor(
    private readonly secret: string,
    /** Unset: callbacks are verified (the console may send them) but never asked for. */
    private readonly webhookId: string | undefined,
  ) {}

  prepare(_target: port.CallbackTarget): port.CallbackPlan | undefined {
    return this.webhookId === undefined ? undefined : { fields: { webhook_id: this.webhookId } };
  }

  verify(
    request: port.CallbackRequest,
    _task: port.CallbackTask | undefined,
  ): port.VerifiedCallback {
    const refuse = (why: string) =>
      new GatewayError('callback_unauthorized', `PixVerse webhook refused: ${why}`);
    const timestamp = request.headers['webhook-timestamp'];
    const nonce = request.headers['webhook-nonce'];
    const signature = request.headers['webhook-signature'];
    if (!timestamp || !nonce || !signature) {
      throw refuse('Webhook-Timestamp, Webhook-Nonce and Webhook-Signature are required');
    }
    if (!/^\d{1,12}$/.test(timestamp)) throw refuse('Webhook-Timestamp is not unix seconds');
    if (Math.abs(request.now / 1000 - Number(timestamp)) > TIMESTAMP_TOLERANCE_S) {
      throw refuse('Webhook-Timestamp is more than 5 minutes away from now');
    }
    // The signed text is made of the body's fields: it must be read (not trusted) first.
    let body: unknown;
    try {
      body = JSON.parse(request.rawBody);
    } catch {
      throw refuse('the body is not JSON, so it cannot carry a valid signature');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw refuse('the body is not a JSON object, so it cannot carry a valid signature');
    }
    const fields = body as Record<string, unknown>;
    const expected = Buffer.from(
      pixverseSignature(this.secret, pixverseSignedText(timestamp, nonce, fields)),
      'base64',
    );
    const given = Buffer.from(signature.trim(), 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw refuse('Webhook-Signature does not match');
    }

    const parsed = ResultRespSchema.safeParse(fields);
    if (!parsed.success || parsed.data.id === undefined) {
      throw GatewayError.invalid([], 'The webhook body is not a PixVerse video result');
    }
    const result = parsed.data;
    const upstreamId = parsed.data.id;
    return { upstreamId, snapshot: () => resultToSnapshot(result, upstreamId) };
  }
}
