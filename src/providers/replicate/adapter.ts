import type { Operation } from '../../contracts/common.js';
import type { ReplicateSettings } from './index.js';
import type * as port from '../../domain/ports.js';
import { closestVideoFormat } from '../video-format.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { UpstreamClient, UpstreamRequest } from '../http-client.js';
import { ReplicateCallbacks } from './callbacks.js';
import { replicateError, type ReplicateCall } from './errors.js';
import {
  cancelAfterOf,
  keptInput,
  preferWaitOf,
  toCreateRequest,
  toReplicateInput,
  toSnapshot,
  validateInput,
  type ReplicateState,
} from './mapping.js';
import { ReplicateCatalogue, parseModelRef, videoCapsOf } from './models.js';
import { ReplicatePredictionSchema, type ReplicatePrediction } from './wire.js';
import { isTrustedOutputUrl, outputHostRules } from '../output-url.js';

export interface ReplicateAdapterOptions {
  /**
   * `Prefer: wait=N` on creates: a fast model answers with its output at once, saving a poll.
   * Kept short because the create holds a gateway request open. 0 sends no header. Default 5.
   */
  preferWaitSeconds?: number;
}

const DELIVERY_HOST = 'replicate.delivery';

/**
 * Replicate predictions API, direct (`https://api.replicate.com/v1`) or through a relay mounted
 * at `.../replicate/v1`: every path is built from the configured base, never from the
 * `urls.get` / `urls.cancel` an answer carries.
 */
export class ReplicateAdapter implements port.ProviderAdapter {
  readonly id = 'replicate';
  private readonly baseUrl: string;
  /** Origins whose output URLs are trusted: the configured base's, and `output_hosts` ones. */
  private readonly outputOrigins: string[];
  private readonly outputDomains: string[];
  private readonly secrets: string[];
  private readonly catalogue: ReplicateCatalogue;
  private readonly preferWaitSeconds: number;
  /** Signed webhooks; only with REPLICATE_WEBHOOK_SECRET (else Replicate is only polled). */
  readonly callbacks?: ReplicateCallbacks;

  constructor(
    private readonly settings: ReplicateSettings,
    private readonly client: UpstreamClient,
    options: ReplicateAdapterOptions = {},
  ) {
    this.baseUrl = settings.baseUrl.replace(/\/+$/, '');
    const extra = outputHostRules(settings.outputHosts ?? []);
    this.outputOrigins = [new URL(this.baseUrl).origin, ...extra.origins];
    this.outputDomains = [DELIVERY_HOST, ...extra.domains];
    this.secrets = settings.credentials.map((c) => c.secret);
    this.catalogue = new ReplicateCatalogue(settings.models);
    this.preferWaitSeconds = Math.min(60, Math.max(0, Math.round(options.preferWaitSeconds ?? 5)));
    if (settings.webhookSecrets?.length) {
      this.callbacks = new ReplicateCallbacks(settings.webhookSecrets, this.secrets);
    }
  }

  models() {
    return this.catalogue.models();
  }

  describeModel(name: string) {
    return this.catalogue.describe(name);
  }

  closestVideoFormat(operation: Operation, model: string, wish: port.VideoWish) {
    const video = operation === 'text-to-video' || operation === 'image-to-video';
    return closestVideoFormat(video ? videoCapsOf(parseModelRef(model)) : {}, wish);
  }

  validate(operation: Operation, model: string, input: port.StartCall['input']) {
    return validateInput(operation, model, input);
  }

  /** Replicate's own client polls every 500 ms; image models take seconds, video minutes. */
  pollIntervalMs(operation: Operation): number {
    return operation === 'text-to-image' ? 1000 : 5000;
  }

  /**
   * Files on replicate.delivery (and its subdomains), on the origin of the configured base URL
   * (a relay, or the emulator, serves outputs there: the operator chose that host), or on a host
   * of the file's `output_hosts`.
   */
  isOutputUrl(url: string): boolean {
    return isTrustedOutputUrl(url, this.outputOrigins, this.outputDomains);
  }

  /** The prediction fields `/replicate/v1` answers with (kept under `replicate`; {} if none). */
  surfaceFields(state: Record<string, unknown>): Record<string, unknown> {
    const view = (state as Partial<ReplicateState>).replicate;
    return view && typeof view === 'object' ? { ...view } : {};
  }

  async start(call: port.StartCall): Promise<port.UpstreamSnapshot> {
    const ref = parseModelRef(call.model);
    if (!ref) {
      const message = `"${call.model}" is not a Replicate model reference`;
      throw new GatewayError('model_not_found', message, {
        errors: [{ path: 'model', message }],
      });
    }
    const input = call.raw ?? toReplicateInput(call.operation, call.model, call.input);
    const { path, body: inputBody } = toCreateRequest(ref, input);
    const body = { ...inputBody, ...call.callbackFields };
    const headers: Record<string, string> = {};
    const now = Date.now();
    const wait = preferWaitOf(this.preferWaitSeconds, call.deadlineAt, now);
    if (wait > 0) headers.prefer = `wait=${wait}`;
    // Replicate ends the job itself at the deadline too, should genway not get to cancel it.
    if (call.deadlineAt !== undefined)
      headers['cancel-after'] = cancelAfterOf(call.deadlineAt, now);
    const prediction = await this.call('create', call.credential.secret, path, {
      method: 'POST',
      json: body,
      headers,
      signal: call.signal,
    });
    const state: Partial<ReplicateState> = {
      replicate: {
        model: ref.model ?? null,
        version: ref.version ?? null,
        input: keptInput(input),
        logs: '',
        started_at: null,
        completed_at: null,
        metrics: null,
        data_removed: false,
        output_kind: null,
      },
    };
    return toSnapshot(prediction, call.operation, state, this.secrets, Date.now());
  }

  async poll(call: port.PollCall): Promise<port.UpstreamSnapshot> {
    const prediction = await this.call(
      'poll',
      call.credential.secret,
      `/predictions/${encodeURIComponent(call.upstreamId)}`,
      { method: 'GET', signal: call.signal },
    );
    return this.snapshotOf(prediction, call);
  }

  async cancel(call: port.PollCall): Promise<port.UpstreamSnapshot> {
    const prediction = await this.call(
      'cancel',
      call.credential.secret,
      `/predictions/${encodeURIComponent(call.upstreamId)}/cancel`,
      { method: 'POST', signal: call.signal },
    );
    return this.snapshotOf(prediction, call);
  }

  private snapshotOf(prediction: ReplicatePrediction, call: port.PollCall): port.UpstreamSnapshot {
    if (prediction.id !== call.upstreamId) {
      throw new GatewayError(
        'upstream_bad_response',
        'Replicate answered with another prediction than the one asked for',
        { retryable: true },
      );
    }
    const state = call.state as Partial<ReplicateState>;
    return toSnapshot(prediction, call.operation, state, this.secrets, Date.now());
  }

  private async call(
    kind: ReplicateCall,
    token: string,
    path: string,
    req: UpstreamRequest,
  ): Promise<ReplicatePrediction> {
    const res = await this.client.send(`${this.baseUrl}${path}`, {
      ...req,
      operation: kind,
      headers: { ...req.headers, authorization: `Bearer ${token}` },
    });
    if (res.status >= 300) throw replicateError(res, kind, this.secrets);
    const parsed = ReplicatePredictionSchema.safeParse(res.json);
    if (!parsed.success) {
      throw new GatewayError(
        'upstream_bad_response',
        `Replicate answered HTTP ${res.status} without a readable prediction`,
        { retryable: kind !== 'create', credentialSignal: false },
      );
    }
    return parsed.data;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
