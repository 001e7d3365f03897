import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { GatewayError } from '../errors/gateway-error.js';

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
}

export interface UpstreamClientOptions {
  /** Provider id, for error messages. */
  provider: string;
  timeoutMs?: number;
  /** Largest JSON answer accepted; anything bigger is a bad response, not a memory spike. */
  maxBodyBytes?: number;
  dispatcher?: Dispatcher;
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
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      new Agent({ connections: 64, keepAliveTimeout: 10_000, connectTimeout: 10_000 });
  }

  async send(url: string, req: UpstreamRequest): Promise<UpstreamResponse> {
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
    let text: string;
    try {
      text = await readLimited(res.body, this.maxBodyBytes);
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
            {
              retryable: true,
            },
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

async function readLimited(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      body.destroy();
      throw new GatewayError('upstream_bad_response', `The provider answer exceeded ${max} bytes`, {
        retryable: true,
      });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Transport failures: which ones provably happened before the request left. */
export function transportError(provider: string, err: unknown): GatewayError {
  const code = (err as { code?: string }).code;
  if (
    err instanceof undiciErrors.ConnectTimeoutError ||
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN'
  ) {
    return new GatewayError('upstream_unavailable', `${provider} is unreachable`, {
      retryable: true,
      requestSent: false,
      cause: err,
    });
  }
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
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

/** Removes any of `secrets` from a text an upstream sent, before it reaches a caller or a log. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out.length > 500 ? `${out.slice(0, 500)}…` : out;
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
