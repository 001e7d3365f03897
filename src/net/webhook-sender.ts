import { Webhook } from 'standardwebhooks';
import type { WebhookSender } from '../domain/ports.js';
import { OutboundLimitError, OutboundRefusedError, type Outbound } from './outbound.js';

export interface WebhookSenderOptions {
  /**
   * The `whsec_…` signing secret (base64 after the prefix) of a tenant: each tenant's messages
   * are signed with its own. Undefined: the tenant has none, and its messages are not sent.
   */
  secretOf(tenant: string): string | undefined;
  /** Cap on one attempt, from connecting to the answer's status line; default 10 s. */
  timeoutMs?: number;
}

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

/** Raised on the per-attempt time cap, so it can be told apart from the caller's abort. */
class AttemptTimeout extends Error {}

/**
 * Client webhooks the Standard Webhooks way: `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (signed by the
 * `standardwebhooks` library), POSTed through the SSRF-safe outbound layer: the URL is checked
 * again at send time, the connection pinned to the checked addresses, and a redirect answer is
 * returned as such, never followed. The body sent is exactly the string that was signed.
 */
export function createWebhookSender(outbound: Outbound, opts: WebhookSenderOptions): WebhookSender {
  const signers = new Map<string, Webhook>();
  const signerOf = (tenant: string): Webhook => {
    const known = signers.get(tenant);
    if (known) return known;
    const secret = opts.secretOf(tenant);
    if (!secret) throw new Error('No webhook signing secret is configured for this tenant');
    let signer: Webhook;
    try {
      signer = new Webhook(secret);
    } catch {
      // The library's message is safe, but the secret must not even be hinted at.
      throw new Error("The tenant's webhook signing secret is not a usable whsec_ secret");
    }
    signers.set(tenant, signer);
    return signer;
  };
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;

  return {
    async send(url, { id, timestamp, body, tenant }, signal) {
      const signer = signerOf(tenant);
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'genway',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': signer.sign(id, timestamp, body),
      };
      const attempt = new AbortController();
      const timer = setTimeout(() => attempt.abort(new AttemptTimeout()), timeoutMs);
      const onAbort = () => attempt.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
      try {
        const res = await outbound.request(url, {
          method: 'POST',
          headers,
          body,
          signal: attempt.signal,
        });
        // Only the status matters; dropping the body also frees the pinned connection.
        res.body.on('error', () => {}).destroy();
        return { status: res.status };
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        throw new Error(describeFailure(err, timeoutMs));
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    },
  };
}

/**
 * A failed attempt as text fit for the task and the logs: the outbound layer's own messages
 * (they name the host only), or the transport's error code; never an address the host
 * resolved to, never a header.
 */
function describeFailure(err: unknown, timeoutMs: number): string {
  if (err instanceof AttemptTimeout) return `No answer within ${timeoutMs} ms`;
  if (err instanceof OutboundRefusedError) {
    return /\baddress\b/.test(err.reason)
      ? `${err.message} (private addresses need OUTBOUND_ALLOWLIST)`
      : err.message;
  }
  if (err instanceof OutboundLimitError) return err.message;
  const code = errorCode(err);
  switch (code) {
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'Connection closed by the receiver before it answered';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'Connection timed out';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return `No answer within ${timeoutMs} ms`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'Receiver unreachable';
    case undefined:
      return 'Connection failed';
    default:
      return /CERT|TLS|SSL/.test(code) ? `TLS error (${code})` : `Connection failed (${code})`;
  }
}

/** The `code` of a transport error, its cause, or the first of an AggregateError. */
function errorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{2,64}$/.test(code)) return code;
    queue.push((e as { cause?: unknown }).cause);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) queue.push(...(errors as unknown[]));
  }
  return undefined;
}
