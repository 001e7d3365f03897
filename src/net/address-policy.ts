import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';

/** Operator configuration for outbound calls made on a caller's behalf. */
export interface OutboundPolicy {
  /** Hostnames, single IPs or CIDRs that may be reached even though they are not public. */
  allowlist: string[];
}

export interface AddressPolicy {
  /** Why connecting to `ip` (which `hostname` resolved to) is refused, or null when it is allowed. */
  refusalReason(ip: string, hostname: string): string | null;
  isAllowedAddress(ip: string, hostname: string): boolean;
}

type Address = ipaddr.IPv4 | ipaddr.IPv6;

// Instance-metadata endpoints hand out cloud credentials. A broad allowlist entry (a CIDR or a
// hostname) never unlocks them; only naming the exact address does.
const METADATA_ADDRESSES = new Set(
  ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200'].map(normalize),
);

const RANGE_LABELS: Record<string, string> = {
  loopback: 'loopback',
  private: 'private',
  uniqueLocal: 'private',
  linkLocal: 'link-local',
  carrierGradeNat: 'carrier-grade NAT',
  multicast: 'multicast',
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  reserved: 'reserved',
  deprecatedSiteLocal: 'site-local',
};

const TUNNEL_LABELS: Record<string, string> = {
  rfc6052: 'NAT64',
  rfc6145: 'IPv4-translated',
  '6to4': '6to4',
  teredo: 'Teredo',
};

// Every globally routed IPv6 unicast address lives in 2000::/3 (NAT64 is handled separately).
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

/**
 * Builds the pure address check run before every outbound connection. Throws on an allowlist
 * entry that is neither a hostname, an IP nor a CIDR, so configuration mistakes surface at start.
 */
export function createAddressPolicy(allowlist: string[]): AddressPolicy {
  const hosts = new Set<string>();
  const ips = new Set<string>();
  const cidrs: [Address, number][] = [];

  for (const raw of allowlist) {
    const entry = raw.trim();
    const slash = entry.indexOf('/');
    if (slash !== -1) {
      if (isIP(entry.slice(0, slash)) === 0 || !ipaddr.isValidCIDR(entry)) throw invalidEntry(raw);
      const range = ipaddr.parseCIDR(entry);
      // Mapped addresses are judged as IPv4, so a mapped CIDR could never match: ask for IPv4.
      if (isMapped(range[0])) throw invalidEntry(raw);
      cidrs.push(range);
    } else if (isIP(entry) !== 0) {
      ips.add(normalize(entry));
    } else {
      const host = hostKey(entry);
      // domainToASCII turns numeric shorthands like "127.1" into IPs; those are not hostnames.
      if (host === '' || isIP(host) !== 0) throw invalidEntry(raw);
      hosts.add(host);
    }
  }

  function refusalReason(ip: string, hostname: string): string | null {
    if (isIP(ip) === 0) return 'not an IP address';
    // An IPv4-mapped IPv6 address reaches the IPv4 host, so it is judged as that IPv4 address.
    const address = unmap(ipaddr.parse(ip));
    const key = keyOf(address);
    if (METADATA_ADDRESSES.has(key)) return ips.has(key) ? null : 'cloud metadata address';
    if (
      ips.has(key) ||
      hosts.has(hostKey(hostname)) ||
      cidrs.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits))
    ) {
      return null;
    }
    return address.kind() === 'ipv4'
      ? ipv4Refusal(address as ipaddr.IPv4)
      : ipv6Refusal(address as ipaddr.IPv6);
  }

  return {
    refusalReason,
    isAllowedAddress: (ip, hostname) => refusalReason(ip, hostname) === null,
  };
}

function ipv4Refusal(address: ipaddr.IPv4): string | null {
  const range = address.range();
  return range === 'unicast' ? null : `${rangeLabel(range)} address`;
}

function ipv6Refusal(address: ipaddr.IPv6): string | null {
  const range = address.range();
  const tunnel = TUNNEL_LABELS[range];
  if (tunnel !== undefined) {
    // Translation and tunnel prefixes forward to an embedded IPv4 host, which must be public.
    if (range === 'rfc6052' && !address.match(NAT64_WELL_KNOWN)) return 'local-use NAT64 address';
    const inner = embeddedIpv4(address, range).find((v4) => v4.range() !== 'unicast');
    return inner ? `${tunnel} address embedding a ${rangeLabel(inner.range())} IPv4 address` : null;
  }
  if (range !== 'unicast') return `${rangeLabel(range)} address`;
  return address.match(GLOBAL_UNICAST_V6) ? null : 'non-global address';
}

function embeddedIpv4(address: ipaddr.IPv6, range: string): ipaddr.IPv4[] {
  const p = address.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  switch (range) {
    case '6to4':
      return [v4(p[1]!, p[2]!)];
    case 'teredo':
      // Teredo embeds the relay server and the client, the client's address bit-inverted.
      return [v4(p[2]!, p[3]!), v4(p[6]! ^ 0xffff, p[7]! ^ 0xffff)];
    default:
      // Well-known NAT64 and IPv4-translated addresses keep the IPv4 host in the last 32 bits.
      return [v4(p[6]!, p[7]!)];
  }
}

function rangeLabel(range: string): string {
  return RANGE_LABELS[range] ?? 'special-purpose';
}

function isMapped(address: Address): address is ipaddr.IPv6 {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress();
}

function unmap(address: Address): Address {
  return isMapped(address) ? address.toIPv4Address() : address;
}

/** Comparable form of an address; a zone index ("%eth0") does not change which host it is. */
function keyOf(address: Address): string {
  return address.toNormalizedString().replace(/%.*$/, '');
}

function normalize(ip: string): string {
  return keyOf(unmap(ipaddr.parse(ip)));
}

function hostKey(hostname: string): string {
  return domainToASCII(hostname.toLowerCase().replace(/\.$/, ''));
}

function invalidEntry(entry: string): Error {
  return new Error(`Invalid outbound allowlist entry "${entry}": expected a hostname, IP or CIDR`);
}
