import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo, type LookupFunction } from 'node:net';
import { buildConnector } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createOutbound,
  OutboundLimitError,
  OutboundRefusedError,
  type ConnectorFactory,
  type Outbound,
  type OutboundOptions,
  type Resolver,
} from './outbound.js';

// ---------------------------------------------------------------------------------------------
// Safety net. Even if the policy had a bug, nothing here may send a packet beyond loopback:
// every Outbound in this file connects through `guardedConnector`, which refuses any target but
// 127.0.0.1 / ::1 before a socket exists, and hostnames come from `fakeResolver`, never real DNS.
// ---------------------------------------------------------------------------------------------

const LOOPBACK = new Set(['127.0.0.1', '::1']);

interface Attempt {
  hostname: string;
  pinned: readonly string[];
  remoteAddress?: string;
}
let attempts: Attempt[] = [];

function loopbackOnly(addresses: readonly string[]): Error | null {
  const stray = addresses.find((address) => !LOOPBACK.has(address));
  return stray === undefined ? null : new Error(`test guard: refused to connect to ${stray}`);
}

const guardedConnector: ConnectorFactory = (options, pinned) => {
  // Wraps the production (pinned) lookup: whatever it answers must be loopback too.
  const lookup: LookupFunction = (hostname, lookupOptions, callback) =>
    options.lookup(hostname, lookupOptions, (err, address, family) => {
      const answered = typeof address === 'string' ? [address] : address.map((a) => a.address);
      const refusal = err ?? loopbackOnly(answered);
      if (refusal) callback(refusal, '');
      else callback(null, address, family);
    });
  const connect = buildConnector({ ...options, lookup });
  return (target, callback) => {
    const attempt: Attempt = { hostname: target.hostname, pinned };
    attempts.push(attempt);
    // An IP-literal host never goes through the lookup, so it is checked here directly.
    const refusal = loopbackOnly(isIP(target.hostname) !== 0 ? [target.hostname] : pinned);
    if (refusal) return callback(refusal, null);
    connect(target, (err, socket) => {
      if (err === null) {
        attempt.remoteAddress = socket.remoteAddress;
        callback(null, socket);
      } else {
        callback(err, null);
      }
    });
  };
};

function fakeResolver(table: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: isIP(address) === 6 ? 6 : 4 }) as const);
  };
  return Object.assign(resolve, { calls });
}

const HOSTS: Record<string, string[]> = {
  'media.example.test': ['127.0.0.1'],
  'cdn.example.test': ['127.0.0.1'],
  localhost: ['127.0.0.1'],
  'internal.example.test': ['10.0.0.5'],
  'mixed.example.test': ['93.184.216.34', '10.0.0.5'],
  'public.example.test': ['93.184.216.34'],
};

const outbounds: Outbound[] = [];

function makeOutbound(options: Omit<OutboundOptions, 'connector'> = {}): Outbound {
  const outbound = createOutbound({
    resolve: fakeResolver(HOSTS),
    ...options,
    connector: guardedConnector,
  });
  outbounds.push(outbound);
  return outbound;
}

// ---------------------------------------------------------------------------------------------
// A loopback server for the allowed traffic.
// ---------------------------------------------------------------------------------------------

let server: Server;
let port: number;

function route(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://placeholder');
  switch (url.pathname) {
    case '/echo':
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ host: req.headers.host, authorization: req.headers.authorization }));
      return;
    case '/redirect':
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/echo' }).end();
      return;
    case '/loop':
      res.writeHead(302, { location: '/loop' }).end();
      return;
    case '/declared-large':
      res.writeHead(200, { 'content-length': '2000' }).end(Buffer.alloc(2000));
      return;
    case '/chunked-large': {
      // No Content-Length: the cap can only trip while streaming.
      res.writeHead(200);
      for (let i = 0; i < 8; i++) res.write(Buffer.alloc(512));
      res.end();
      return;
    }
    case '/never-finishes':
      res.writeHead(200);
      res.write('partial');
      return;
    case '/never-answers':
      return;
    default:
      res.writeHead(404).end();
  }
}

beforeAll(async () => {
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await Promise.all(outbounds.map((outbound) => outbound.close()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  attempts = [];
});

// ---------------------------------------------------------------------------------------------

describe('refused targets never reach the connection layer', () => {
  const outbound = makeOutbound();

  it.each([
    ['http://127.0.0.1', /loopback/],
    ['http://[::1]', /loopback/],
    ['http://0x7f000001', /loopback/],
    ['http://2130706433', /loopback/],
    ['http://017700000001', /loopback/],
    ['http://127.1', /loopback/],
    ['http://169.254.169.254/latest/meta-data/', /cloud metadata/],
    ['http://[fd00:ec2::254]/', /cloud metadata/],
    ['http://[::ffff:127.0.0.1]', /loopback/],
    ['http://10.1.2.3', /private/],
    ['http://100.64.0.1', /carrier-grade NAT/],
    ['http://224.0.0.1', /multicast/],
    ['http://0.0.0.0', /unspecified/],
    ['http://[64:ff9b::a00:5]', /NAT64 address embedding a private/],
    ['ftp://example.com', /scheme ftp: is not allowed/],
    ['file:///etc/passwd', /scheme file: is not allowed/],
    ['http://user:pass@example.com', /credentials/],
    ['http://internal.example.test/x.png', /host resolves to a private address/],
    ['http://mixed.example.test/x.png', /host resolves to a private address/],
    ['http://unknown.example.test/', /could not be resolved/],
    ['not a url', /invalid URL/],
  ])('%s', async (url, reason) => {
    const err = await outbound.request(url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundRefusedError);
    expect((err as OutboundRefusedError).reason).toMatch(reason);
    await expect(outbound.check(url)).rejects.toBeInstanceOf(OutboundRefusedError);
    expect(attempts).toEqual([]);
  });

  it('keeps credentials, query and resolved addresses out of the error', async () => {
    const err = (await outbound
      .request('http://user:s3cret@example.com/a?token=abc')
      .catch((e: unknown) => e)) as OutboundRefusedError;
    expect(err.url).toBe('http://example.com/a');
    expect(err.message).not.toMatch(/s3cret|token/);

    const internal = (await outbound
      .request('http://internal.example.test/')
      .catch((e: unknown) => e)) as OutboundRefusedError;
    expect(internal.message).toContain('internal.example.test');
    expect(internal.message).not.toContain('10.0.0.5');
  });

  it('check() accepts a public host without connecting', async () => {
    await expect(outbound.check('https://public.example.test/hook')).resolves.toMatchObject({
      addresses: ['93.184.216.34'],
    });
    expect(attempts).toEqual([]);
  });
});

describe('the test guard itself', () => {
  // Allowlisting private space makes the policy pass, so only the guard stands in the way.
  it.each(['http://internal.example.test/', 'http://10.1.2.3/'])(
    'refuses a non-loopback target the policy let through: %s',
    async (url) => {
      const outbound = makeOutbound({ allowlist: ['10.0.0.0/8'] });
      await expect(outbound.request(url)).rejects.toThrow(/test guard: refused to connect to 10\./);
      expect(attempts).toHaveLength(1);
      expect(attempts[0]?.remoteAddress).toBeUndefined();
    },
  );
});

describe('allowed traffic', () => {
  it('pins the connection to the checked address of a hostname real DNS does not know', async () => {
    const resolve = fakeResolver(HOSTS);
    const outbound = makeOutbound({ allowlist: ['media.example.test'], resolve });
    const res = await outbound.fetchBuffer(`http://media.example.test:${port}/echo`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toMatchObject({ host: `media.example.test:${port}` });
    expect(resolve.calls).toEqual(['media.example.test']);
    expect(attempts).toEqual([
      { hostname: 'media.example.test', pinned: ['127.0.0.1'], remoteAddress: '127.0.0.1' },
    ]);
  });

  it('allows an allowlisted IP literal and streams the body', async () => {
    const outbound = makeOutbound({ allowlist: ['127.0.0.1'] });
    const res = await outbound.request(`http://127.0.0.1:${port}/echo`);
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({
      host: `127.0.0.1:${port}`,
    });
    expect(attempts).toHaveLength(1);
  });
});

describe('redirects', () => {
  const base = () => `http://media.example.test:${port}`;

  it('follows a redirect to an allowed target and reports the final URL', async () => {
    const outbound = makeOutbound({ allowlist: ['media.example.test'] });
    const res = await outbound.fetchBuffer(`${base()}/redirect?to=/echo`);
    expect(res.status).toBe(200);
    expect(res.finalUrl).toBe(`${base()}/echo`);
    expect(attempts).toHaveLength(2);
  });

  it.each([
    () => `http://127.0.0.2:${port}/echo`,
    () => `http://localhost:${port}/echo`,
    () => 'http://169.254.169.254/latest/meta-data/',
  ])('re-checks each hop and refuses a non-allowlisted target (%#)', async (target) => {
    const outbound = makeOutbound({ allowlist: ['media.example.test'] });
    const location = encodeURIComponent(target());
    const err = await outbound
      .fetchBuffer(`${base()}/redirect?to=${location}`)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundRefusedError);
    expect((err as OutboundRefusedError).reason).toMatch(/loopback|metadata/);
    expect(attempts.map((a) => a.hostname)).toEqual(['media.example.test']);
  });

  it('stops after maxRedirects', async () => {
    const outbound = makeOutbound({ allowlist: ['media.example.test'], maxRedirects: 5 });
    const err = await outbound.fetchBuffer(`${base()}/loop`).catch((e: unknown) => e);
    expect((err as OutboundRefusedError).reason).toBe('more than 5 redirects');
    expect(attempts).toHaveLength(6);
  });

  it('does not follow redirects for POST', async () => {
    const outbound = makeOutbound({ allowlist: ['media.example.test'] });
    const res = await outbound.fetchBuffer(`${base()}/redirect?to=/echo`, {
      method: 'POST',
      body: '{}',
    });
    expect(res.status).toBe(302);
    expect(attempts).toHaveLength(1);
  });

  it('drops Authorization when a redirect leaves the origin, keeps it otherwise', async () => {
    const outbound = makeOutbound({ allowlist: ['media.example.test', 'cdn.example.test'] });
    const headers = { Authorization: 'Bearer secret' };
    const same = await outbound.fetchBuffer(`${base()}/redirect?to=/echo`, { headers });
    expect(JSON.parse(same.body.toString())).toMatchObject({ authorization: 'Bearer secret' });

    const cross = encodeURIComponent(`http://cdn.example.test:${port}/echo`);
    const res = await outbound.fetchBuffer(`${base()}/redirect?to=${cross}`, { headers });
    expect(JSON.parse(res.body.toString())).toEqual({ host: `cdn.example.test:${port}` });
  });
});

describe('size and time caps', () => {
  const base = () => `http://media.example.test:${port}`;

  it('refuses a body whose Content-Length exceeds maxBytes before reading it', async () => {
    const outbound = makeOutbound({ allowlist: ['media.example.test'], maxBytes: 1000 });
    const err = await outbound.request(`${base()}/declared-large`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundLimitError);
    expect((err as OutboundLimitError).limit).toBe('size');
    expect((err as Error).message).toMatch(/exceeds the limit of 1000 bytes/);
  });

  it('aborts a chunked body once it streams past maxBytes', async () => {
    const outbound = makeOutbound({ allowlist: ['media.example.test'], maxBytes: 1000 });
    const res = await outbound.request(`${base()}/chunked-large`);
    const read = async () => {
      for await (const chunk of res.body) void chunk;
    };
    await expect(read()).rejects.toMatchObject({ name: 'OutboundLimitError', limit: 'size' });
    await expect(outbound.fetchBuffer(`${base()}/chunked-large`)).rejects.toMatchObject({
      limit: 'size',
    });
  });

  it('aborts a response that never finishes', async () => {
    const outbound = makeOutbound({ allowlist: ['media.example.test'], timeoutMs: 300 });
    const err = await outbound.fetchBuffer(`${base()}/never-finishes`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundLimitError);
    expect((err as OutboundLimitError).limit).toBe('time');
    expect((err as Error).message).toMatch(/did not complete within 300 ms/);
  });

  it('aborts a server that never answers', async () => {
    const outbound = makeOutbound({ allowlist: ['media.example.test'], timeoutMs: 300 });
    await expect(outbound.request(`${base()}/never-answers`)).rejects.toMatchObject({
      name: 'OutboundLimitError',
      limit: 'time',
    });
  });
});
