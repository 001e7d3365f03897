import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { Transform, pipeline, type Readable } from 'node:stream';
import { Agent, buildConnector, request as undiciRequest } from 'undici';
import { createAddressPolicy } from './address-policy.js';

/** Resolves a hostname to every address it has; all of them are checked before connecting. */
export type Resolver = (hostname: string) => Promise<{ address: string; family: 4 | 6 }[]>;

/**
 * Builds the socket connector for one validated address set. `options.lookup` answers every
 * lookup with `addresses` only. Default: undici's `buildConnector(options)`; tests wrap it.
 */
export type ConnectorFactory = (
  options: { lookup: LookupFunction },
  addresses: readonly string[],
) => buildConnector.connector;

export interface OutboundOptions {
  /** Hostnames, IPs or CIDRs that may be reached although not public (see address-policy). */
  allowlist?: string[];
  resolve?: Resolver;
  /** Response body cap in bytes; default 25 MB. */
  maxBytes?: number;
  /** Cap on the whole exchange, redirects and body included; default 15 s. */
  timeoutMs?: number;
  /** Redirects followed for GET/HEAD; default 5. */
  maxRedirects?: number;
  connector?: ConnectorFactory;
}

export interface OutboundInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

export interface OutboundResponse<Body> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Body;
  /** The URL that produced this response, after redirects. */
  finalUrl: string;
}

export interface Outbound {
  /** Validates a URL without connecting (e.g. a webhook URL at create time). Resolves hostnames. */
  check(url: string): Promise<{ url: URL; addresses: string[] }>;
  /** Pinned request with redirect re-checks and size/time caps; the body streams. */
  request(url: string, init?: OutboundInit): Promise<OutboundResponse<Readable>>;
  /** Like `request`, with the body read into memory (at most `maxBytes`). */
  fetchBuffer(url: string, init?: OutboundInit): Promise<OutboundResponse<Buffer>>;
  /** Aborts every request still in flight. */
  close(): Promise<void>;
}

/** A URL was refused before any connection was made. The message is safe to show the caller. */
export class OutboundRefusedError extends Error {
  readonly reason: string;
  /** The refused URL without credentials, query or fragment; empty when it did not parse. */
  readonly url: string;

  constructor(reason: string, url?: URL, options?: { cause: unknown }) {
    super(
      url
        ? `Refused outbound request to ${url.host}: ${reason}`
        : `Refused outbound request: ${reason}`,
      options,
    );
    this.name = 'OutboundRefusedError';
    this.reason = reason;
    this.url = url ? safeUrl(url) : '';
  }
}

/** A response exceeded the size cap or the exchange the time cap. The message is safe to show. */
export class OutboundLimitError extends Error {
  readonly limit: 'size' | 'time';
  /** The URL being fetched without credentials, query or fragment. */
  readonly url: string;

  constructor(limit: 'size' | 'time', message: string, url: URL) {
    super(message);
    this.name = 'OutboundLimitError';
    this.limit = limit;
    this.url = safeUrl(url);
  }
}

const DEFAULT_MAX_BYTES = 25 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
// Fetch drops these when a redirect leaves the origin, so a token is never handed to a third party.
const ORIGIN_BOUND_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

const systemResolver: Resolver = async (hostname) => {
  const found = await dnsLookup(hostname, { all: true, verbatim: true });
  return found.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

export function createOutbound(opts: OutboundOptions = {}): Outbound {
  const policy = createAddressPolicy(opts.allowlist ?? []);
  const resolve = opts.resolve ?? systemResolver;
  const connector = opts.connector ?? ((options) => buildConnector(options));
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const agents = new Set<Agent>();

  /** Resolves the URL's host and checks every address; returns the addresses to pin to. */
  async function resolveTarget(url: URL, signal: AbortSignal): Promise<string[]> {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const literal = isIP(host) !== 0;
    let addresses = [host];
    if (!literal) {
      try {
        addresses = (await untilAborted(resolve(host), signal)).map((found) => found.address);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        throw new OutboundRefusedError('host could not be resolved', url, { cause: err });
      }
      if (addresses.length === 0) throw new OutboundRefusedError('host has no addresses', url);
    }
    for (const address of addresses) {
      const reason = policy.refusalReason(address, host);
      if (reason !== null) {
        // The resolved address itself stays out of the message: it would map internal networks.
        throw new OutboundRefusedError(literal ? reason : `host resolves to a ${reason}`, url);
      }
    }
    return addresses;
  }

  /** Aborts with an OutboundLimitError once `timeoutMs` has passed, or with the caller's reason. */
  function startDeadline(current: () => URL, callerSignal?: AbortSignal) {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      const url = current();
      const message = `Request to ${url.host} did not complete within ${timeoutMs} ms`;
      controller.abort(new OutboundLimitError('time', message, url));
    }, timeoutMs);
    const signal = callerSignal
      ? AbortSignal.any([controller.signal, callerSignal])
      : controller.signal;
    return { signal, clear: () => clearTimeout(timer) };
  }

  // One short-lived Agent per validated address set: its sockets can only reach those addresses.
  function openAgent(addresses: string[]): Agent {
    const agent = new Agent({ connect: connector({ lookup: pinnedLookup(addresses) }, addresses) });
    agents.add(agent);
    return agent;
  }

  function release(agent: Agent): void {
    agents.delete(agent);
    void agent.destroy();
  }

  async function request(
    raw: string,
    init: OutboundInit = {},
  ): Promise<OutboundResponse<Readable>> {
    const method = (init.method ?? 'GET').toUpperCase();
    // A webhook POST answered with a redirect is just a non-2xx; only reads follow redirects.
    const follow = method === 'GET' || method === 'HEAD';
    let url = parseTarget(raw);
    let headers = init.headers ?? {};
    const deadline = startDeadline(() => url, init.signal);
    try {
      for (let redirects = 0; ; redirects++) {
        const agent = openAgent(await resolveTarget(url, deadline.signal));
        let res: Awaited<ReturnType<typeof undiciRequest>>;
        try {
          res = await undiciRequest(url, {
            method,
            headers,
            body: init.body,
            signal: deadline.signal,
            dispatcher: agent,
          });
        } catch (err) {
          release(agent);
          throw err;
        }

        const location = res.headers.location;
        if (follow && REDIRECT_STATUSES.has(res.statusCode) && typeof location === 'string') {
          discard(res.body);
          release(agent);
          if (redirects === maxRedirects) {
            throw new OutboundRefusedError(`more than ${maxRedirects} redirects`, url);
          }
          // Each hop is parsed, resolved and checked from scratch on the next iteration.
          const next = parseTarget(location, url);
          if (next.origin !== url.origin) headers = withoutOriginBound(headers);
          url = next;
          continue;
        }

        const finalUrl = url;
        const tooLarge = () =>
          new OutboundLimitError(
            'size',
            `Response from ${finalUrl.host} exceeds the limit of ${maxBytes} bytes`,
            finalUrl,
          );
        if (Number(res.headers['content-length']) > maxBytes) {
          discard(res.body);
          release(agent);
          throw tooLarge();
        }
        const body = capBody(res.body, maxBytes, tooLarge, () => {
          deadline.clear();
          release(agent);
        });
        return { status: res.statusCode, headers: res.headers, body, finalUrl: finalUrl.href };
      }
    } catch (err) {
      deadline.clear();
      throw err;
    }
  }

  return {
    async check(raw) {
      const url = parseTarget(raw);
      const deadline = startDeadline(() => url);
      try {
        return { url, addresses: await resolveTarget(url, deadline.signal) };
      } finally {
        deadline.clear();
      }
    },
    request,
    async fetchBuffer(raw, init) {
      const res = await request(raw, init);
      const chunks: Buffer[] = [];
      for await (const chunk of res.body) chunks.push(chunk as Buffer);
      return { ...res, body: Buffer.concat(chunks) };
    },
    async close() {
      const open = [...agents];
      agents.clear();
      await Promise.all(open.map((agent) => agent.destroy()));
    },
  };
}

/** Parses and checks the parts of a URL that need no DNS: scheme and credentials. */
function parseTarget(raw: string, base?: URL): URL {
  let url: URL;
  try {
    // WHATWG parsing also canonicalises numeric hosts (0x7f000001, 2130706433, 127.1, ...).
    url = new URL(raw, base);
  } catch {
    throw new OutboundRefusedError(base ? 'invalid redirect location' : 'invalid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundRefusedError(`scheme ${url.protocol} is not allowed`, url);
  }
  if (url.username !== '' || url.password !== '') {
    throw new OutboundRefusedError('credentials in the URL are not allowed', url);
  }
  return url;
}

/**
 * A lookup that ignores DNS and answers with the already-validated addresses, so the socket can
 * only connect where the check looked (no rebinding between check and connect). The hostname is
 * ignored: the agent using it serves one validated host.
 */
function pinnedLookup(addresses: string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: isIP(address) }));
  return (_hostname, options, callback) => {
    if (options.all) callback(null, entries);
    else callback(null, entries[0]!.address, entries[0]!.family);
  };
}

/** Passes `source` through while counting bytes; fails with `tooLarge()` past `maxBytes`. */
function capBody(
  source: Readable,
  maxBytes: number,
  tooLarge: () => Error,
  done: () => void,
): Readable {
  let received = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > maxBytes) callback(tooLarge());
      else callback(null, chunk);
    },
  });
  // Any failure (cap, deadline, caller abort or destroy) tears down both streams, then cleans up.
  pipeline(source, limiter, done);
  return limiter;
}

/** Drops an unread body; undici reports that as an abort error, which nobody is waiting for. */
function discard(body: Readable): void {
  body.on('error', () => {}).destroy();
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    if (signal.aborted) onAbort();
  });
}

function withoutOriginBound(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !ORIGIN_BOUND_HEADERS.has(name.toLowerCase())),
  );
}

/** A URL fit for error messages and logs: no credentials, query or fragment. */
function safeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
