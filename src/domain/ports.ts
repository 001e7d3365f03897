import type { Readable } from 'node:stream';
import type { Operation, TaskStatus } from '../contracts/common.js';
import type { Credential } from '../config/config.js';
import type { FieldError } from '../errors/gateway-error.js';
import type { TaskError, TaskOutput } from './task-record.js';

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

export interface StartCall {
  operation: Operation;
  model: string;
  input: GenerationInput;
  credential: Credential;
  signal?: AbortSignal;
  /**
   * Serves bytes at an unguessable, expiring public URL under PUBLIC_URL, for upstreams that
   * only take URLs (Haiper). Absent when genway has no PUBLIC_URL.
   */
  publishMedia?: (bytes: Buffer, contentType: string) => Promise<string>;
  /**
   * The upstream's own input object, from a compatible surface (`/replicate/v1`): sent as is
   * instead of mapping `input`. Only adapters serving such a surface read it.
   */
  raw?: Record<string, unknown>;
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
  /** The upstream's own hint for the next poll (ModelsLab `eta`, Retry-After). */
  pollAfterMs?: number;
}

/**
 * The port every provider implements (one folder per provider under providers/). The domain
 * knows this interface only. Adapters throw GatewayError (retryable set for transient faults).
 */
export interface ProviderAdapter {
  readonly id: string;
  models(): ModelDescriptor[];
  /**
   * For providers whose model names are open-ended (Replicate): a descriptor for a well-formed
   * name that models() does not list, or undefined when the name is not usable.
   */
  describeModel?(name: string): ModelDescriptor | undefined;
  /** Model rules checked before any upstream call: one FieldError per broken rule. */
  validate(operation: Operation, model: string, input: GenerationInput): FieldError[];
  start(call: StartCall): Promise<UpstreamSnapshot>;
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
 * Streams output files from providers (implemented with undici in providers/). Throws a
 * GatewayError for transport failures (502 upstream_error, 504 upstream_timeout).
 */
export interface OutputFetcher {
  fetch(request: OutputFetchRequest): Promise<OutputFetchResponse>;
  close(): Promise<void>;
}
