import type { Readable } from 'node:stream';
import type { Operation, TaskStatus } from '../contracts/common.js';
import type { FieldError } from '../errors/gateway-error.js';
import type { UpstreamUsage } from './pricing.js';
import type { UrlInput } from './caller-urls.js';
import type { TaskError, TaskOutput } from './task-record.js';

/** One upstream credential of a provider (the secret never leaves the adapter's calls). */
export interface Credential {
  /** Stable, non-secret id recorded on tasks (e.g. `{provider}-1`). */
  id: string;
  secret: string;
  /** Cap on jobs in flight with this credential, if the operator set one. */
  maxInFlight?: number;
  /** Status polls per second this credential may receive (file: `polls_per_second`). */
  pollsPerSecond?: number;
}

/** A model a provider serves, as published by GET /v1/models. */
export interface ModelDescriptor {
  /** Upstream model name; the public id is `${provider}/${name}`. */
  name: string;
  operations: Operation[];
  /** Limits genway enforces before calling the provider (published as-is). */
  limits: Record<string, unknown>;
  /** The provider's default model (used when a request names the provider alone). */
  isDefault?: boolean;
}

/** The normalized input of a create, after contract validation (fields per operation). */
export interface GenerationInput {
  prompt?: string;
  negative_prompt?: string;
  width?: number;
  height?: number;
  num_outputs?: number;
  steps?: number;
  guidance_scale?: number;
  scheduler?: string;
  seed?: number;
  duration?: number;
  aspect_ratio?: string;
  resolution?: string;
  image?: string;
  video?: string;
  provider_options?: Record<string, unknown>;
}

/** A video frame and length as a caller wishes them (OpenAI's `size` and `seconds`). */
export interface VideoWish {
  width?: number;
  height?: number;
  seconds?: number;
}

/** The closest a model comes to a VideoWish: the fields to send, and what they amount to. */
export interface VideoFormat {
  input: Pick<GenerationInput, 'aspect_ratio' | 'resolution' | 'width' | 'height' | 'duration'>;
  /** `WIDTHxHEIGHT` of the frame asked of the upstream; null when it has no say in it. */
  size: string | null;
  /** The seconds asked of the upstream; null when it has no say in them. */
  seconds: number | null;
}

export interface StartCall {
  operation: Operation;
  model: string;
  input: GenerationInput;
  credential: Credential;
  signal?: AbortSignal;
  /**
   * Serves bytes at an unguessable, expiring public URL under PUBLIC_URL, for upstreams that
   * take files only as URLs. Absent when genway has no PUBLIC_URL.
   */
  publishMedia?: (bytes: Buffer, contentType: string) => Promise<string>;
  /**
   * The upstream's own input object, from a surface that speaks its protocol: sent as is
   * instead of mapping `input`. Only adapters serving such a surface read it.
   */
  raw?: Record<string, unknown>;
  /**
   * Fields to merge into the upstream create body so that the upstream calls genway back
   * (what this adapter's `callbacks.prepare()` returned for the task). Absent: no callback.
   */
  callbackFields?: Record<string, unknown>;
  /**
   * The task's deadline (ms since the epoch), if the caller set one. genway enforces it itself
   * (polls stop there and it cancels through `cancel`); an upstream with its own deadline
   * (e.g. a `Cancel-After` header) is also told, and a create should not hold past it.
   */
  deadlineAt?: number;
}

/** A create whose answer was lost (see ProviderAdapter.recover). */
export interface RecoverCall extends StartCall {
  /** When genway sent the create (ms since the epoch, genway's clock). */
  sentAt: number;
}

export interface PollCall {
  operation: Operation;
  model: string;
  credential: Credential;
  upstreamId: string;
  state: Record<string, unknown>;
  signal?: AbortSignal;
}

/** What the adapter learned from the upstream, in genway's terms. */
export interface UpstreamSnapshot {
  upstreamId: string | null;
  upstreamStatus: string;
  status: TaskStatus;
  progress?: number | null;
  outputs?: TaskOutput[];
  error?: TaskError;
  /** Replaces the adapter-private state kept on the task, when given. */
  state?: Record<string, unknown>;
  /** The upstream's own hint for the next poll (an `eta` in its answer, Retry-After). */
  pollAfterMs?: number;
  /** What the upstream reported about its charge for the job (usage, a refund), if anything. */
  usage?: UpstreamUsage;
}

/**
 * The port every provider implements (one folder per provider under providers/). The domain
 * knows this interface only. Adapters throw GatewayError (retryable set for transient faults).
 */
export interface ProviderAdapter {
  readonly id: string;
  models(): ModelDescriptor[];
  /**
   * For providers whose model names are open-ended (`owner/name`): a descriptor for a well-formed
   * name that models() does not list, or undefined when the name is not usable.
   */
  describeModel?(name: string): ModelDescriptor | undefined;
  /**
   * Normalized inputs (`image`, `video`) for which this upstream documents plain `http://` URLs
   * (it fetches them itself). Every other caller URL must be https. Absent: none.
   */
  readonly plainHttpInputs?: readonly UrlInput[];
  /**
   * The closest `model` comes to a wished frame and length (clients such as OpenAI's name sizes
   * and lengths few models take exactly): always valid for the model, never an error. Absent:
   * the wish goes as aspect ratio, resolution and duration, unchecked.
   */
  closestVideoFormat?(operation: Operation, model: string, wish: VideoWish): VideoFormat;
  /** Model rules checked before any upstream call: one FieldError per broken rule. */
  validate(operation: Operation, model: string, input: GenerationInput): FieldError[];
  start(call: StartCall): Promise<UpstreamSnapshot>;
  /**
   * For a create that may have started a job whose answer never came (timeout after sending,
   * connection reset): the job, found by the upstream's own means, or undefined when it cannot
   * be found for sure. Must never bind a task to a job it did not start. Absent: the upstream
   * offers no way to find a job (the task then fails with upstream_outcome_unknown).
   */
  recover?(call: RecoverCall): Promise<UpstreamSnapshot | undefined>;
  poll(call: PollCall): Promise<UpstreamSnapshot>;
  /** Absent when the upstream has no cancel API. */
  cancel?(call: PollCall): Promise<UpstreamSnapshot>;
  /** Base poll interval for this operation, before backoff. */
  pollIntervalMs?(operation: Operation): number;
  /**
   * Whether genway may fetch `url` as an output file of this provider (its own origin, its
   * CDN hosts). Output URLs come from upstream answers: anything else is never followed.
   * Absent: no output URL is trusted, so GET /v1/tasks/{id}/outputs/{index} refuses them.
   */
  isOutputUrl?(url: string): boolean;
  /**
   * For a provider whose own protocol genway also serves (a compatible surface under its
   * own prefix): what the adapter kept of the upstream job in `state` (the task's
   * adapter-private state), as that protocol's own fields, for the surface to answer with.
   * The surface reads them tolerantly (a task written by an older genway may lack some).
   * Absent: the provider has no compatible surface.
   */
  surfaceFields?(state: Record<string, unknown>): Record<string, unknown>;
  /**
   * Upstream callbacks (webhooks the upstream POSTs to genway when a job changes): absent when
   * the provider has none or they are not configured. A callback only speeds a task up;
   * polling stays the fallback.
   */
  readonly callbacks?: UpstreamCallbacks;
  close?(): Promise<void>;
}

/** One GET (or HEAD) of an output file; the body streams and is never buffered whole. */
export interface OutputFetchRequest {
  url: string;
  method: 'GET' | 'HEAD';
  /** Only `range` / `if-range` from the client; never its credentials. */
  headers: Record<string, string>;
  signal?: AbortSignal;
}

export interface OutputFetchResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/**
 * Streams output files from providers (implemented in providers/). Throws a
 * GatewayError for transport failures (502 upstream_error, 504 upstream_timeout).
 */
export interface OutputFetcher {
  fetch(request: OutputFetchRequest): Promise<OutputFetchResponse>;
  close(): Promise<void>;
}

/** One signed POST of a client webhook message (implemented in net/webhook-sender.ts). */
export interface WebhookMessage {
  /** The `webhook-id`: the same on every attempt of one message. */
  id: string;
  /** The attempt time, signed as `webhook-timestamp`. */
  timestamp: Date;
  /** The exact JSON text that is signed and sent. */
  body: string;
  /** The tenant whose task it is: the message is signed with that tenant's own secret. */
  tenant: string;
}

/**
 * Sends a client webhook (SSRF rules re-checked at send time). Resolves with the receiver's
 * HTTP status, whatever it is; throws when no answer came (refused URL, connection failure,
 * timeout) with an Error whose message is safe to record on the task and to log.
 */
export interface WebhookSender {
  send(url: string, message: WebhookMessage, signal?: AbortSignal): Promise<{ status: number }>;
}

/** Key of the task's upstream state under which `CallbackPlan.state` is kept (across polls). */
export const CALLBACK_STATE_KEY = 'callback';

/** Where the upstream is asked to call back for one task (only when PUBLIC_URL is set). */
export interface CallbackTarget {
  taskId: string;
  operation: Operation;
  /** genway's public callback URL for this provider and task (it names the task). */
  url: string;
}

/** What an adapter adds to a create so that the upstream calls back. */
export interface CallbackPlan {
  /** Merged into the upstream create body (e.g. a webhook URL and a tracking id). */
  fields: Record<string, unknown>;
  /**
   * Kept on the task for verify() (upstream state, key CALLBACK_STATE_KEY). Never a secret:
   * e.g. the hash of a per-task token, whose value only the upstream gets.
   */
  state?: Record<string, unknown>;
}

/** One callback POST as received, before anything in it is trusted. */
export interface CallbackRequest {
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  /** The body exactly as received: signatures cover these bytes. */
  rawBody: string;
  now: number;
}

/** The task a callback names, as verify() and snapshot() see it. */
export interface CallbackTask {
  id: string;
  operation: Operation;
  upstreamId: string | null;
  /** Adapter-private upstream state, as poll() gets it. */
  state: Record<string, unknown>;
  /** What prepare() kept for this task; {} when nothing. */
  callbackState: Record<string, unknown>;
}

/** An authenticated callback. */
export interface VerifiedCallback {
  /** The upstream job the body is about (checked against the task's); null when it names none. */
  upstreamId: string | null;
  /** The body in genway's terms, for the task it belongs to (throws GatewayError if unreadable). */
  snapshot(task: CallbackTask): UpstreamSnapshot;
}

/**
 * Upstream callbacks of one provider. The domain (UpstreamCallbackService) finds the task,
 * cross-checks the upstream id and applies the snapshot like a poll answer, but only forward.
 */
export interface UpstreamCallbacks {
  /**
   * `task`: the callback URL of each create names the genway task (`CallbackTarget.url`).
   * `upstream-id`: one fixed URL per provider, set in the provider's console; the task is
   * found by the upstream id of the verified body.
   */
  readonly routing: 'task' | 'upstream-id';
  /** Create-body fields asking for a callback for this task; undefined: don't ask. */
  prepare(target: CallbackTarget): CallbackPlan | undefined;
  /**
   * Authenticates the callback (token, signature, timestamp) before reading its body. `task`
   * is the task the URL names (`task` routing; undefined when there is none, or for
   * `upstream-id` routing). Throws GatewayError `callback_unauthorized` when it is forged,
   * stale or cannot be checked; `callback_mismatch` when it is authentic but not this task's.
   */
  verify(request: CallbackRequest, task: CallbackTask | undefined): VerifiedCallback;
}
