import { Blob } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { FormData } from 'undici';
import type { Operation } from '../../contracts/common.js';
import type { PixverseSettings } from './index.js';
import type * as port from '../../domain/ports.js';
import { closestVideoFormat } from '../video-format.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { UpstreamClient, UpstreamRequest } from '../http-client.js';
import { PixverseCallbacks } from './callbacks.js';
import { pixverseHttpError } from './errors.js';
import {
  imageSourceOf,
  isPixverseOutputUrl,
  resultToSnapshot,
  toGenerateBody,
  validateInput,
  type PixverseState,
} from './mapping.js';
import { PIXVERSE_MODELS, pixverseVideoCaps } from './models.js';
import {
  GenerateRespSchema,
  PixverseEnvelopeSchema,
  ResultRespSchema,
  UploadRespSchema,
} from './wire.js';

const UPLOAD_PATH = '/image/upload';
const TEXT_PATH = '/video/text/generate';
const IMAGE_PATH = '/video/img/generate';
const RESULT_PATH = '/video/result';

/**
 * PixVerse Platform API: `API-KEY` header plus a fresh `Ai-trace-id` on every request (a
 * reused trace id is read as a duplicate), images uploaded first for their `img_id`, then
 * `GET /video/result/{id}` until the video leaves status 5.
 */
export class PixverseAdapter implements port.ProviderAdapter {
  readonly id = 'pixverse';
  private readonly secrets: string[];
  private readonly baseUrl: string;
  /** Signed webhooks; only with PIXVERSE_WEBHOOK_SECRET (and asked for with PIXVERSE_WEBHOOK_ID). */
  readonly callbacks?: PixverseCallbacks;

  constructor(
    private readonly settings: PixverseSettings,
    private readonly client: UpstreamClient,
    private readonly newTraceId: () => string = randomUUID,
  ) {
    this.secrets = settings.credentials.map((c) => c.secret);
    this.baseUrl = settings.baseUrl.replace(/\/+$/, '');
    if (settings.webhookSecret) {
      this.callbacks = new PixverseCallbacks(settings.webhookSecret, settings.webhookId);
    }
  }

  models() {
    return PIXVERSE_MODELS;
  }

  closestVideoFormat(operation: Operation, model: string, wish: port.VideoWish) {
    return closestVideoFormat(pixverseVideoCaps(operation, model), wish);
  }

  validate(operation: Operation, model: string, input: port.StartCall['input']) {
    return validateInput(operation, model, input);
  }

  /** Output files live on PixVerse's own hosts (media.pixverse.ai) or the configured origin. */
  isOutputUrl(url: string): boolean {
    return isPixverseOutputUrl(url, this.baseUrl);
  }

  /** The official MCP client polls every 5 s. */
  pollIntervalMs(): number {
    return 5000;
  }

  async start(call: port.StartCall): Promise<port.UpstreamSnapshot> {
    const { operation, model, input, credential, signal } = call;
    const state: PixverseState = {};
    if (operation === 'image-to-video') {
      if (input.image === undefined) {
        throw GatewayError.invalid([{ path: 'image', message: 'required' }]);
      }
      state.imgId = await this.upload(input.image, credential.secret, signal);
    }
    const body = {
      ...toGenerateBody(operation, model, input, state.imgId),
      ...call.callbackFields,
    };
    const path = operation === 'image-to-video' ? IMAGE_PATH : TEXT_PATH;
    const resp = await this.call(credential.secret, path, {
      method: 'POST',
      json: body,
      signal,
      operation: 'create',
    });
    const parsed = GenerateRespSchema.safeParse(resp);
    if (!parsed.success) {
      throw new GatewayError(
        'upstream_outcome_unknown',
        'PixVerse accepted the generation but sent no readable video_id',
      );
    }
    // PixVerse exposes no queued state: a new video is "generating" (status 5).
    return { upstreamId: parsed.data.video_id, upstreamStatus: '5', status: 'running', state };
  }

  async poll(call: port.PollCall): Promise<port.UpstreamSnapshot> {
    const path = `${RESULT_PATH}/${encodeURIComponent(call.upstreamId)}`;
    const resp = await this.call(call.credential.secret, path, {
      method: 'GET',
      signal: call.signal,
      operation: 'poll',
    });
    const parsed = ResultRespSchema.safeParse(resp);
    if (!parsed.success) {
      throw new GatewayError('upstream_bad_response', 'PixVerse sent an unreadable video result', {
        retryable: true,
        credentialSignal: false,
      });
    }
    return resultToSnapshot(parsed.data, call.upstreamId);
  }

  /** `POST /image/upload`: an https URL as the `image_url` field, a data: URL as the `image` file. */
  private async upload(image: string, secret: string, signal?: AbortSignal): Promise<number> {
    const source = imageSourceOf(image);
    const form = new FormData();
    if (source.kind === 'url') {
      form.append('image_url', source.url);
    } else {
      const blob = new Blob([new Uint8Array(source.bytes)], { type: source.contentType });
      form.append('image', blob, source.filename);
    }
    const resp = await this.call(secret, UPLOAD_PATH, {
      method: 'POST',
      body: form,
      signal,
      operation: 'upload',
    });
    const parsed = UploadRespSchema.safeParse(resp);
    if (!parsed.success) {
      throw new GatewayError('upstream_bad_response', 'PixVerse sent no img_id for the upload', {
        credentialSignal: false,
      });
    }
    return parsed.data.img_id;
  }

  /** One request with the key and a never-reused trace id; returns `Resp` or throws. */
  private async call(
    secret: string,
    path: string,
    req: Omit<UpstreamRequest, 'headers'>,
  ): Promise<unknown> {
    const res = await this.client.send(`${this.baseUrl}${path}`, {
      ...req,
      headers: { 'API-KEY': secret, 'Ai-trace-id': this.newTraceId() },
    });
    const envelope = PixverseEnvelopeSchema.safeParse(res.json);
    if (res.status >= 200 && res.status < 300 && envelope.success && envelope.data.ErrCode === 0) {
      return envelope.data.Resp;
    }
    throw pixverseHttpError(res, this.secrets);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
