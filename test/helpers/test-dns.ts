import { createOutbound, type Outbound, type Resolver } from '../../src/net/outbound.js';

/**
 * DNS for tests, which never leave loopback: `example.com` and its subdomains resolve to a public
 * address (93.184.215.14; nothing ever connects there: upstreams are emulators), `localhost` to
 * loopback, and every other name fails to resolve, as an unknown host does.
 */
export const testResolver: Resolver = async (hostname) => {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'example.com' || host.endsWith('.example.com')) {
    return [{ address: '93.184.215.14', family: 4 }];
  }
  if (host === 'localhost') return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
};

/** The app's outbound rules (its OUTBOUND_ALLOWLIST) with the test resolver. */
export const testOutbound = (allowlist: string[]): Outbound =>
  createOutbound({ allowlist, resolve: testResolver });
