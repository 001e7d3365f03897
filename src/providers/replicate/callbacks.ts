import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type * as port from '../../domain/ports.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { parseCallbackBody } from '../callback-body.js';
import { toSnapshot, type ReplicateState } from './mapping.js';
import { ReplicatePredictionSchema } from './wire.js';

/**
 * Events asked for: `start` (the prediction leaves `starting`) and `completed` (any terminal
 * status). `output`/`logs` would only carry progress, at most every 500 ms: polls do that.
 */
export const WEBHOOK_EVENTS = ['start', 'completed'] as const;

/**
 * Replicate webhooks (providers.md section 2): the create carries `webhook` (the task's
 * callback URL) and `webhook_events_filter`; Replicate POSTs the prediction object signed the
 * Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`)
 * with the account's `whsec_` secret. The standardwebhooks library checks the signature over
 * the raw body and refuses timestamps more than 5 minutes old (or ahead).
 */
export class ReplicateCallbacks implements port.UpstreamCallbacks {
  readonly routing = 'task';
  private readonly verifiers: Webhook[];

  constructor(
    /** One `whsec_` secret per Replicate account whose tokens genway uses. */
    secrets: readonly string[],
    /** Upstream secrets to scrub from error texts of the body. */
    private readonly scrubbed: readonly string[],
  ) {
    this.verifiers = secrets.map((s) => new Webhook(s));
  }

  prepare(target: port.CallbackTarget): port.CallbackPlan {
    return { fields: { webhook: target.url, webhook_events_filter: [...WEBHOOK_EVENTS] } };
  }

  verify(
    request: port.CallbackRequest,
    _task: port.CallbackTask | undefined,
  ): port.VerifiedCallback {
    const headers = {
      'webhook-id': request.headers['webhook-id'] ?? '',
      'webhook-timestamp': request.headers['webhook-timestamp'] ?? '',
      'webhook-signature': request.headers['webhook-signature'] ?? '',
    };
    let reason = 'no signature matches';
    const authentic = this.verifiers.some((webhook) => {
      try {
        webhook.verify(request.rawBody, headers, { jsonParse: false });
        return true;
      } catch (err) {
        if (err instanceof WebhookVerificationError) reason = describe(err.message);
        return false;
      }
    });
    if (!authentic) {
      throw new GatewayError('callback_unauthorized', `Replicate webhook refused: ${reason}`);
    }

    const { parsed: prediction } = parseCallbackBody(
      request.rawBody,
      ReplicatePredictionSchema,
      'a Replicate prediction',
    );
    return {
      upstreamId: prediction.id,
      snapshot: (task) =>
        toSnapshot(
          prediction,
          task.operation,
          task.state as Partial<ReplicateState>,
          this.scrubbed,
          request.now,
        ),
    };
  }
}

/** The library's reasons, for the problem detail (none of them carries a secret). */
function describe(message: string): string {
  switch (message) {
    case 'Missing required headers':
      return 'webhook-id, webhook-timestamp and webhook-signature are required';
    case 'Message timestamp too old':
      return 'webhook-timestamp is more than 5 minutes old';
    case 'Message timestamp too new':
      return 'webhook-timestamp is more than 5 minutes ahead';
    case 'Invalid Signature Headers':
      return 'webhook-timestamp is not a number';
    default:
      return 'no signature matches';
  }
}
