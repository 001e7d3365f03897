import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, errors as undiciErrors, request } from 'undici';
import { GatewayError } from '../errors/gateway-error.js';
import type { AddressPolicy } from '../net/address-policy.js';
import type { OutputFetcher, OutputFetchRequest, OutputFetchResponse } from '../domain/ports.js';

export interface UndiciOutputFetcherOptions {
  /** Time to the upstream's response headers; default 30 s. */
  headersTimeoutMs?: number;
  /** Longest silence between two body chunks; default 60 s. */
  bodyTimeoutMs?: number;
  /**
   * Checks every address an output host resolves to (loopback, private, link-local and
   * metadata addresses refused): a trusted CDN name may still point inward.
   */
  addressPolicy?: AddressPolicy;
  /**
   * Origins the operator configured (providers' base URLs): reached wherever they are. Exact
   * origins: another port of the same host is checked like any output host.
   */
  exemptOrigins?: readonly string[];
}

/**
 * Streams output files from providers' hosts through one shared keep-alive Agent (closed with
 * the app). Redirects are not followed here: the caller checks every hop against the
 * provider's hosts first.
 */
export class UndiciOutputFetcher implements OutputFetcher {
  /** Output hosts: every address checked against the policy (when there is one). */
  private readonly agent: Agent;
  /** The operator's own origins (exemptOrigins): connected to as configured. */
  private readonly exemptAgent: Agent;
  private readonly policy: AddressPolicy | undefined;
  private readonly exemptOrigins: Set<string>;

  constructor(options: UndiciOutputFetcherOptions = {}) {
    this.policy = options.addressPolicy;
    this.exemptOrigins = new Set((options.exemptOrigins ?? []).map((o) => new URL(o).origin));
    const agentOptions = {
      keepAliveTimeout: 10_000,
      connectTimeout: 10_000,
      headersTimeout: options.headersTimeoutMs ?? 30_000,
      bodyTimeout: options.bodyTimeoutMs ?? 60_000,
    };
    this.exemptAgent = new Agent(agentOptions);
    this.agent = this.policy
      ? new Agent({ ...agentOptions, connect: { lookup: this.checkedLookup(this.policy) } })
      : this.exemptAgent;
  }

  /** DNS lookup that drops the answer when any address is one the policy refuses. */
  private checkedLookup(policy: AddressPolicy): LookupFunction {
    return (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (err, found: LookupAddress[]) => {
        if (err) return callback(err, '', 0);
        const refused = found
          .map((a) => policy.refusalReason(a.address, hostname))
          .find((r) => r !== null);
        if (refused) return callback(new RefusedAddressError(hostname, refused), '', 0);
        if (options.all) return (callback as unknown as AllCallback)(null, found);
        const firstFound = found[0];
        if (!firstFound) return callback(new RefusedAddressError(hostname, 'no address'), '', 0);
        callback(null, firstFound.address, firstFound.family);
      });
    };
  }

  async fetch(req: OutputFetchRequest): Promise<OutputFetchResponse> {
    const exempt = this.exemptOrigins.has(new URL(req.url).origin);
    if (!exempt) this.checkLiteral(req.url);
    try {
      const res = await request(req.url, {
        method: req.method,
        headers: req.headers,
        signal: req.signal,
        dispatcher: exempt ? this.exemptAgent : this.agent,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      throw outputTransportError(req.url, err);
    }
  }

  /** An IP written in the URL is never looked up: checked here instead. */
  private checkLiteral(url: string): void {
    if (!this.policy) return;
    const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(host) === 0) return;
    const reason = this.policy.refusalReason(host, host);
    if (reason !== null) throw refusedOutput(new RefusedAddressError(host, reason));
  }

  /** Lets streams in flight finish for a moment, then cuts them: shutdown must not hang. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), 2000);
    });
    const agents = [...new Set([this.agent, this.exemptAgent])];
    const outcome = await Promise.race([Promise.all(agents.map((a) => a.close())), grace]);
    clearTimeout(timer);
    if (outcome === 'late') await Promise.all(agents.map((a) => a.destroy()));
  }
}

type AllCallback = (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;

/** An output host that resolves to (or is) an address genway does not fetch from. */
class RefusedAddressError extends Error {
  constructor(host: string, reason: string) {
    super(`${host} resolves to a ${reason} address`);
  }
}

function refusedOutput(err: RefusedAddressError): GatewayError {
  return new GatewayError(
    'upstream_bad_response',
    'The output is on a host genway does not fetch from (not a public address)',
    { cause: err },
  );
}

/** Connection failures → 502 upstream_error; no answer in time → 504. Never the URL's query. */
function outputTransportError(url: string, err: unknown): GatewayError {
  let host = 'the provider';
  try {
    host = new URL(url).host;
  } catch {
    // keep the generic name
  }
  if (err instanceof RefusedAddressError) return refusedOutput(err);
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
