import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type * as port from '../../domain/ports.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { parseCallbackBody } from '../callback-body.js';
import { toSnapshot, type PollState } from './mapping.js';
import { ModelslabAnswerSchema, type ModelslabAnswer } from './wire.js';

/** Query parameter of the callback URL carrying the per-task token. */
export const TOKEN_PARAM = 'token';

const hashOf = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/**
 * ModelsLab webhooks (providers.md section 1): the create carries `webhook` and `track_id`;
 * ModelsLab POSTs the same JSON as its fetch answers (success or failed, `track_id` echoed),
 * best effort and possibly more than once. It signs nothing, so the callback URL carries a
 * random 256-bit token per task; only its SHA-256 is kept on the task, and the token is
 * compared in constant time. The genway task id is in the URL path and in `track_id`.
 */
export class ModelslabCallbacks implements port.UpstreamCallbacks {
  readonly routing = 'task';

  constructor(
    /** The fetch URL for a job that is still processing (the adapter's own rule). */
    private readonly fetchUrlFor: (answer: ModelslabAnswer, task: port.CallbackTask) => string,
    /** The credentials, scrubbed from a failure text a callback carries. */
    private readonly secrets: () => readonly string[] = () => [],
  ) {}

  prepare(target: port.CallbackTarget): port.CallbackPlan {
    const token = randomBytes(32).toString('base64url');
    const url = new URL(target.url);
    url.searchParams.set(TOKEN_PARAM, token);
    return {
      fields: { webhook: url.toString(), track_id: target.taskId },
      state: { tokenHash: hashOf(token).toString('base64url') },
    };
  }

  verify(
    request: port.CallbackRequest,
    task: port.CallbackTask | undefined,
  ): port.VerifiedCallback {
    const token = request.query[TOKEN_PARAM];
    const stored = task?.callbackState.tokenHash;
    const expected = typeof stored === 'string' ? Buffer.from(stored, 'base64url') : undefined;
    // Both sides are SHA-256 digests: equal lengths, so the comparison takes constant time.
    const valid =
      token !== undefined &&
      expected !== undefined &&
      expected.length === 32 &&
      timingSafeEqual(hashOf(token), expected);
    if (!valid || !task) {
      throw new GatewayError(
        'callback_unauthorized',
        'The callback token is missing or wrong for this task',
      );
    }

    const { json, parsed: answer } = parseCallbackBody(
      request.rawBody,
      ModelslabAnswerSchema,
      'a ModelsLab answer',
    );
    const trackId = (json as { track_id?: unknown }).track_id;
    if (trackId !== undefined && trackId !== null && String(trackId) !== task.id) {
      throw new GatewayError('callback_mismatch', 'The callback track_id names another task');
    }
    return {
      upstreamId: answer.id && answer.id !== '' ? answer.id : null,
      snapshot: (current) => {
        const previous = current.state as Partial<PollState>;
        const s = toSnapshot(
          answer,
          current.operation,
          (a) => this.fetchUrlFor(a, current),
          previous,
          request.now,
          this.secrets(),
        );
        return { ...s, upstreamId: s.upstreamId ?? current.upstreamId };
      },
    };
  }
}
