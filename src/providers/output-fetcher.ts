import { Agent, errors as undiciErrors, request } from 'undici';
import { GatewayError } from '../errors/gateway-error.js';
import type { OutputFetcher, OutputFetchRequest, OutputFetchResponse } from '../domain/ports.js';

export interface UndiciOutputFetcherOptions {
  /** Time to the upstream's response headers; default 30 s. */
  headersTimeoutMs?: number;
  /** Longest silence between two body chunks; default 60 s. */
  bodyTimeoutMs?: number;
}

/**
 * Streams output files from providers' hosts through one shared keep-alive Agent (closed with
 * the app). Redirects are not followed here: the caller checks every hop against the
 * provider's hosts first.
 */
export class UndiciOutputFetcher implements OutputFetcher {
  private readonly agent: Agent;

  constructor(options: UndiciOutputFetcherOptions = {}) {
    this.agent = new Agent({
      keepAliveTimeout: 10_000,
      connectTimeout: 10_000,
      headersTimeout: options.headersTimeoutMs ?? 30_000,
      bodyTimeout: options.bodyTimeoutMs ?? 60_000,
    });
  }

  async fetch(req: OutputFetchRequest): Promise<OutputFetchResponse> {
    try {
      const res = await request(req.url, {
        method: req.method,
        headers: req.headers,
        signal: req.signal,
        dispatcher: this.agent,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      throw outputTransportError(req.url, err);
    }
  }

  /** Lets streams in flight finish for a moment, then cuts them: shutdown must not hang. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), 2000);
    });
    const outcome = await Promise.race([this.agent.close(), grace]);
    clearTimeout(timer);
    if (outcome === 'late') await this.agent.destroy();
  }
}

/** Connection failures → 502 upstream_error; no answer in time → 504. Never the URL's query. */
function outputTransportError(url: string, err: unknown): GatewayError {
  let host = 'the provider';
  try {
    host = new URL(url).host;
  } catch {
    // keep the generic name
  }
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new GatewayError('upstream_timeout', `${host} did not answer in time for the output`, {
      cause: err,
    });
  }
  return new GatewayError(
    'upstream_error',
    `Could not fetch the output from ${host}: the connection failed`,
    {
      cause: err,
    },
  );
}
