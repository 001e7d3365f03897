import type { Operation } from '../../contracts/common.js';
import type { ModelslabSettings } from './index.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type * as port from '../../domain/ports.js';
import { closestVideoFormat } from '../video-format.js';
import { retryAfterMs, type UpstreamClient, type UpstreamResponse } from '../http-client.js';
import { ModelslabCallbacks } from './callbacks.js';
import { modelslabError } from './errors.js';
import {
  isModelslabOutputUrl,
  toCreateBody,
  toSnapshot,
  validateInput,
  type PollState,
} from './mapping.js';
import { MODELSLAB_MODELS, VIDEO_CAPS } from './models.js';
import { ModelslabAnswerSchema, type ModelslabAnswer } from './wire.js';

const TEXT_TO_IMAGE_PATH = '/api/v1/enterprise/text2img';
const IMAGE_FETCH_PATH = '/api/v1/enterprise/fetch';
const VIDEO_FETCH_PATH = '/api/v1/enterprise/video/fetch';

/** ModelsLab enterprise: key in the JSON body, jobs either done at once or fetched later. */
export class ModelslabAdapter implements port.ProviderAdapter {
  readonly id = 'modelslab';
  private readonly origin: string;
  private readonly secrets: string[];
  /** Webhook + track_id with a per-task token (asked for only when PUBLIC_URL is set). */
  readonly callbacks = new ModelslabCallbacks(
    (answer, task) => this.fetchUrlFor(answer, task.operation),
    () => this.secrets,
  );

  constructor(
    private readonly settings: ModelslabSettings,
    private readonly client: UpstreamClient,
  ) {
    this.origin = new URL(settings.baseUrl).origin;
    this.secrets = settings.credentials.map((c) => c.secret);
  }

  models() {
    return MODELSLAB_MODELS;
  }

  closestVideoFormat(operation: Operation, _model: string, wish: port.VideoWish) {
    return closestVideoFormat(operation === 'text-to-video' ? VIDEO_CAPS : {}, wish);
  }

  validate(operation: Operation, _model: string, input: port.StartCall['input']) {
    return validateInput(operation, input);
  }

  pollIntervalMs(operation: Operation): number {
    return operation === 'text-to-video' ? 5000 : 3000;
  }

  isOutputUrl(url: string): boolean {
    return isModelslabOutputUrl(url, this.origin);
  }

  async start(call: port.StartCall): Promise<port.UpstreamSnapshot> {
    const path = call.operation === 'text-to-video' ? this.settings.videoPath : TEXT_TO_IMAGE_PATH;
    const body = {
      ...toCreateBody(call.operation, call.model, call.input, call.credential.secret),
      ...call.callbackFields,
    };
    const answer = await this.post(path, body, call.signal);
    return toSnapshot(
      answer,
      call.operation,
      (a) => this.fetchUrlFor(a, call.operation),
      {},
      Date.now(),
      this.secrets,
    );
  }

  async poll(call: port.PollCall): Promise<port.UpstreamSnapshot> {
    const state = call.state as Partial<PollState>;
    const fetchUrl = state.fetchUrl ?? this.documentedFetchUrl(call.upstreamId, call.operation);
    const isImageQueue = fetchUrl === `${this.settings.baseUrl}${IMAGE_FETCH_PATH}`;
    const body = isImageQueue
      ? { key: call.credential.secret, request_id: call.upstreamId }
      : { key: call.credential.secret };
    const answer = await this.post(fetchUrl, body, call.signal, true);
    const snapshot = toSnapshot(
      answer,
      call.operation,
      () => fetchUrl,
      state,
      Date.now(),
      this.secrets,
    );
    // "Request not found" carries an empty id; keep ours.
    return { ...snapshot, upstreamId: snapshot.upstreamId ?? call.upstreamId };
  }

  /** Follow `fetch_result` only when it points at the configured upstream (no SSRF by answer). */
  private fetchUrlFor(answer: ModelslabAnswer, operation: Operation): string {
    if (answer.fetch_result) {
      try {
        if (new URL(answer.fetch_result).origin === this.origin) return answer.fetch_result;
      } catch {
        // not a URL: fall through to the documented endpoint
      }
    }
    if (!answer.id)
      throw new GatewayError('upstream_bad_response', 'ModelsLab queued a job without an id');
    return this.documentedFetchUrl(answer.id, operation);
  }

  private documentedFetchUrl(id: string, operation: Operation): string {
    return operation === 'text-to-video'
      ? `${this.settings.baseUrl}${VIDEO_FETCH_PATH}/${encodeURIComponent(id)}`
      : `${this.settings.baseUrl}${IMAGE_FETCH_PATH}`;
  }

  private async post(
    pathOrUrl: string,
    body: object,
    signal?: AbortSignal,
    isPoll = false,
  ): Promise<ModelslabAnswer> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${this.settings.baseUrl}${pathOrUrl}`;
    const res: UpstreamResponse = await this.client.send(url, {
      method: 'POST',
      json: body,
      signal,
      operation: isPoll ? 'poll' : 'create',
    });
    const parsed = ModelslabAnswerSchema.safeParse(res.json);
    const answer = parsed.success ? parsed.data : undefined;
    if (res.status >= 400 || !answer || answer.status === 'error') {
      if (res.status < 400 && !answer) {
        throw new GatewayError(
          'upstream_bad_response',
          `ModelsLab answered HTTP ${res.status} without a readable body`,
          { retryable: isPoll, credentialSignal: false },
        );
      }
      throw modelslabError(res.status, answer, this.secrets, retryAfterMs(res.headers));
    }
    return answer;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
