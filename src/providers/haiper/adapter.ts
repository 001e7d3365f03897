import type { Operation } from '../../contracts/common.js';
import type { HaiperSettings } from './index.js';
import type * as port from '../../domain/ports.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { decodeDataUrl } from '../data-url.js';
import type { UpstreamClient, UpstreamResponse } from '../http-client.js';
import { haiperError, type HaiperErrorContext } from './errors.js';
import {
  isHaiperOutputUrl,
  toCreateRequest,
  toSnapshot,
  toStartSnapshot,
  validateInput,
} from './mapping.js';
import {
  HAIPER_IMAGE_TYPES,
  HAIPER_MAX_IMAGE_BYTES,
  HAIPER_MODELS,
  HAIPER_VIDEO_CAPS,
} from './models.js';
import { closestVideoFormat } from '../video-format.js';
import { HaiperCreateAnswerSchema, HaiperTaskAnswerSchema } from './wire.js';

const isHttpUrl = (value: string, protocols: readonly string[]) => {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
};

/**
 * Haiper video through the Cloudsway MaaS host: `{basePath}/{endpointPath}/video/...` with
 * `Authorization: Bearer <access key>`. Haiper only takes public media URLs, so a data: image
 * is published under PUBLIC_URL (`call.publishMedia`) first.
 */
export class HaiperAdapter implements port.ProviderAdapter {
  readonly id = 'haiper';
  /** Cloudsway documents `sourceImage` (and Haiper fetches `sourceVideo` the same way) as http or https. */
  readonly plainHttpInputs = ['image', 'video'] as const;
  /** `{basePath}/{endpointPath}/video` */
  private readonly root: string;
  private readonly secrets: string[];
  private readonly origin: string;

  constructor(
    settings: HaiperSettings,
    private readonly client: UpstreamClient,
  ) {
    const base = settings.baseUrl.replace(/\/+$/, '');
    const endpoint = settings.endpointPath.replace(/^\/+|\/+$/g, '');
    this.root = `${base}/${encodeURIComponent(endpoint)}/video`;
    this.secrets = settings.credentials.map((c) => c.secret);
    this.origin = new URL(base).origin;
  }

  models() {
    return HAIPER_MODELS;
  }

  validate(operation: Operation, _model: string, input: port.StartCall['input']) {
    return validateInput(operation, input);
  }

  closestVideoFormat(operation: Operation, _model: string, wish: port.VideoWish) {
    return closestVideoFormat(HAIPER_VIDEO_CAPS[operation] ?? {}, wish);
  }

  /** Output links: the configured Cloudsway origin, or https on Cloudsway's / Haiper's domains. */
  isOutputUrl(url: string): boolean {
    return isHaiperOutputUrl(url, this.origin);
  }

  async start(call: port.StartCall): Promise<port.UpstreamSnapshot> {
    const media: { sourceImage?: string; video?: string } = {};
    if (call.operation === 'image-to-video') media.sourceImage = await this.sourceImageOf(call);
    if (call.operation === 'video-upscale' || call.operation === 'video-extend') {
      media.video = this.sourceVideoOf(call.input.video);
    }
    const { route, body } = toCreateRequest(call.operation, call.input, media);
    const res = await this.send('POST', `${this.root}/${route}`, call, body, { phase: 'create' });
    const answer = HaiperCreateAnswerSchema.safeParse(res.json);
    if (!answer.success) {
      // A 2xx without a task id: the job may have started, but genway cannot follow it.
      throw new GatewayError(
        'upstream_outcome_unknown',
        `Haiper answered HTTP ${res.status} without a taskId; the job may or may not have started`,
      );
    }
    return toStartSnapshot(answer.data);
  }

  async poll(call: port.PollCall): Promise<port.UpstreamSnapshot> {
    const url = `${this.root}/tasks/${encodeURIComponent(call.upstreamId)}`;
    const res = await this.send('GET', url, call, undefined, {
      phase: 'poll',
      taskId: call.upstreamId,
    });
    const answer = HaiperTaskAnswerSchema.safeParse(res.json);
    if (!answer.success) {
      throw new GatewayError(
        'upstream_bad_response',
        `Haiper answered HTTP ${res.status} to a task poll without a readable status`,
        { retryable: true, credentialSignal: false },
      );
    }
    return toSnapshot(answer.data, call.upstreamId, this.secrets);
  }

  /** An http(s) URL passes through; a data: URL is decoded and published under PUBLIC_URL. */
  private async sourceImageOf(call: port.StartCall): Promise<string> {
    const image = call.input.image;
    if (image === undefined) {
      throw GatewayError.invalid([{ path: 'image', message: 'haiper image-to-video needs image' }]);
    }
    if (/^data:/i.test(image)) {
      if (!call.publishMedia) {
        throw GatewayError.invalid(
          [
            {
              path: 'image',
              message:
                'Haiper only accepts a public image URL; a data: URL can only be used when genway has PUBLIC_URL set (it then serves the image to Haiper). Send an https URL instead.',
            },
          ],
          'image: Haiper needs a public image URL; data: URLs need PUBLIC_URL to be configured',
        );
      }
      const decoded = decodeDataUrl(image, 'image', HAIPER_IMAGE_TYPES, HAIPER_MAX_IMAGE_BYTES);
      const contentType = decoded.contentType === 'image/jpg' ? 'image/jpeg' : decoded.contentType;
      return call.publishMedia(decoded.bytes, contentType);
    }
    if (!isHttpUrl(image, ['https:', 'http:'])) {
      throw GatewayError.invalid([
        { path: 'image', message: 'expected an http(s) URL or a data:image/...;base64 URL' },
      ]);
    }
    return image;
  }

  /** The domain resolves task-id references; whatever arrives must be a public URL by now. */
  private sourceVideoOf(video: string | undefined): string {
    if (video === undefined || !isHttpUrl(video, ['https:', 'http:'])) {
      throw GatewayError.invalid([
        { path: 'video', message: 'Haiper needs the source video as an http(s) URL' },
      ]);
    }
    return video;
  }

  private async send(
    method: 'GET' | 'POST',
    url: string,
    call: { credential: port.StartCall['credential']; signal?: AbortSignal },
    body: unknown,
    context: HaiperErrorContext,
  ): Promise<UpstreamResponse> {
    const res = await this.client.send(url, {
      method,
      headers: { authorization: `Bearer ${call.credential.secret}` },
      json: body,
      signal: call.signal,
      operation: context.phase,
    });
    if (res.status >= 400) throw haiperError(res, this.secrets, context);
    return res;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
