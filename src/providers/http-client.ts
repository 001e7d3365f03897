import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import type { UpstreamMetrics, UpstreamOperation, UpstreamOutcome } from '../domain/metrics.js';
import { GatewayError, isGatewayError } from '../errors/gateway-error.js';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or undefined when the body was empty. */
  json: unknown;
}

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'DELETE';
  headers?: Record<string, string>;
  /** Serialised as JSON unless it is already a Buffer or FormData-like body. */
  json?: unknown;
  body?: Dispatcher.DispatchOptions['body'];
  signal?: AbortSignal;
  /** What the call is for, for metrics (`genway_upstream_requests_total`); default `call`. */
  operation?: UpstreamOperation;
}

export interface UpstreamClientOptions {
  /** Provider id, for error messages. */
  provider: string;
  /** Headers and body timeout of each call (UPSTREAM_TIMEOUT_MS in the app). */
  timeoutMs: number;
  /** Largest JSON answer accepted; anything bigger is a bad response, not a memory spike. */
  maxBodyBytes?: number;
  dispatcher?: Dispatcher;
  /** Counts and times every call (by provider, operation, outcome). */
  metrics?: UpstreamMetrics;
}

/**
 * The thin undici client every adapter uses: one keep-alive pool per provider, JSON in and
 * out, transport failures turned into GatewayErrors that say whether repeating is safe.
 */
export class UpstreamClient {
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;

  constructor(private readonly options: UpstreamClientOptions) {
    this.timeoutMs = options.timeoutMs;
    this.maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      new Agent({ connections: 64, keepAliveTimeout: 10_000, connectTimeout: 10_000 });
  }

  async send(url: string, req: UpstreamRequest): Promise<UpstreamResponse> {
    const metrics = this.options.metrics;
    if (!metrics) return this.exchange(url, req);
    const started = performance.now();
    let outcome: UpstreamOutcome = 'connection_error';
    try {
      const res = await this.exchange(url, req);
      outcome = outcomeOfStatus(res.status);
      return res;
    } catch (err) {
      outcome = outcomeOfError(err);
      throw err;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      metrics.upstreamCall(this.options.provider, req.operation ?? 'call', outcome, seconds);
    }
  }

  private async exchange(url: string, req: UpstreamRequest): Promise<UpstreamResponse> {
    const provider = this.options.provider;
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let body = req.body;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
    }
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: req.method,
        headers,
        body,
        signal: req.signal,
        dispatcher: this.dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      throw transportError(provider, err);
    }
    // A 5xx is the API host failing, whatever its body; any other answer's size and syntax
    // are shaped by what was asked (a tenant's model and input), not by the credential.
    const hostFailed = res.statusCode >= 500;
    let text: string;
    try {
      text = await readLimited(res, this.maxBodyBytes, hostFailed);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw transportError(provider, err);
    }
    let json: unknown;
    if (text.trim() !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        // Not JSON: error pages from proxies, HTML 502s. Callers map by status.
        json = undefined;
        if (res.statusCode < 300) {
          throw new GatewayError(
            'upstream_bad_response',
            `${provider} answered with a body that is not JSON`,
            { retryable: true, credentialSignal: false },
          );
        }
      }
    }
    return { status: res.statusCode, headers: res.headers, json };
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }
}

const outcomeOfStatus = (status: number): UpstreamOutcome =>
  status < 400 ? 'ok' : status === 429 ? 'http_429' : status < 500 ? 'http_4xx' : 'http_5xx';

/** The bounded class of a call that got no usable answer (see transportError). */
function outcomeOfError(err: unknown): UpstreamOutcome {
  if (!isGatewayError(err)) return 'connection_error';
  if (err.code === 'upstream_unavailable') return 'unreachable';
  if (err.code === 'upstream_bad_response') return 'bad_response';
  if (err.code === 'upstream_timeout') {
    return (err.cause as Error | undefined)?.name === 'AbortError' ? 'aborted' : 'timeout';
  }
  return 'connection_error';
}

const tooLarge = (max: number, hostFailed: boolean) =>
  new GatewayError('upstream_bad_response', `The provider answer exceeded ${max} bytes`, {
    retryable: true,
    credentialSignal: hostFailed,
  });

async function readLimited(
  { body, headers }: Pick<Dispatcher.ResponseData, 'body' | 'headers'>,
  max: number,
  hostFailed: boolean,
): Promise<string> {
  // The usual answer says its length: read at once (no async iteration per chunk), after the
  // same bound. undici ends the body with an error if the upstream sends more than it said.
  const declared = Number(headers['content-length']);
  if (Number.isSafeInteger(declared) && declared >= 0) {
    if (declared > max) {
      // Unread: its destroy emits an abort error nobody else listens to.
      body.on('error', () => undefined).destroy();
      throw tooLarge(max, hostFailed);
    }
    return body.text();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      body.destroy();
      throw tooLarge(max, hostFailed);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Failures while connecting (refused, DNS, no route, connect timeout): the request was never
 * written, so even a create may go elsewhere.
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** Timeouts undici arms once the request was written: the upstream may be working on it. */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The error's code, and those of the attempts of an AggregateError (one per address tried). */
function codesOf(err: unknown): string[] {
  const own = (err as { code?: unknown } | null)?.code;
  const inner = (err as { errors?: unknown } | null)?.errors;
  return [
    ...(typeof own === 'string' ? [own] : []),
    ...(Array.isArray(inner) ? inner.flatMap(codesOf) : []),
  ];
}

/**
 * Transport failures, and whether they provably happened before the request left
 * (`requestSent: false`: connect refused, DNS, connect timeout) or the request may have
 * reached the upstream (`requestSent` unset: headers or body timeout, a socket reset or
 * closed mid-exchange, an abort): a create must then never be sent again.
 */
export function transportError(provider: string, err: unknown): GatewayError {
  const codes = codesOf(err);
  if (
    err instanceof undiciErrors.ConnectTimeoutError ||
    (codes.length > 0 && codes.every((c) => NOT_SENT_CODES.has(c)))
  ) {
    return new GatewayError('upstream_unavailable', `${provider} is unreachable`, {
      retryable: true,
      requestSent: false,
      cause: err,
    });
  }
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    codes.some((c) => TIMEOUT_CODES.has(c))
  ) {
    return new GatewayError('upstream_timeout', `${provider} did not answer in time`, {
      retryable: true,
      cause: err,
    });
  }
  if ((err as Error).name === 'AbortError') {
    return new GatewayError('upstream_timeout', `The call to ${provider} was aborted`, {
      retryable: true,
      cause: err,
    });
  }
  // UND_ERR_SOCKET, ECONNRESET, EPIPE, ...: the connection broke once the request was under way.
  return new GatewayError('upstream_error', `The connection to ${provider} failed`, {
    retryable: true,
    cause: err,
  });
}

/** Milliseconds from a Retry-After header (seconds or HTTP date), if present. */
export function retryAfterMs(headers: UpstreamResponse['headers']): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The query (and fragment) of a URL in free text: where signed links carry their tokens. */
const URL_QUERY = /(\bhttps?:\/\/[^\s?#"'<>]*)[?#][^\s"'<>]*/gi;

/**
 * Removes any of `secrets`, and the query of any URL (a signed link's token), from a text an
 * upstream sent, before it reaches a caller or a log; keeps at most 500 characters.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  // Only the start is kept: the URL pattern never runs over a megabyte of text.
  const long = out.length > 500;
  out = out.slice(0, 2000).replace(URL_QUERY, '$1?[redacted]');
  return long || out.length > 500 ? `${out.slice(0, 500)}…` : out;
}

const CONTENT_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
};

/** Content type from a URL's file extension, or `fallback`. */
export function contentTypeOf(url: string, fallback: string): string {
  const path = url.split(/[?#]/)[0] ?? '';
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return CONTENT_TYPES[ext] ?? fallback;
}
