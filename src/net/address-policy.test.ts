import { describe, expect, it } from 'vitest';
import { createAddressPolicy } from './address-policy.js';

const strict = createAddressPolicy([]);

describe('address policy without allowlist', () => {
  it.each([
    ['127.0.0.1', /loopback/],
    ['::1', /loopback/],
    ['10.1.2.3', /private/],
    ['172.16.5.4', /private/],
    ['192.168.1.1', /private/],
    ['fc00::1', /private/],
    ['169.254.1.1', /link-local/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['224.0.0.1', /multicast/],
    ['ff02::1', /multicast/],
    ['0.0.0.0', /unspecified/],
    ['::', /unspecified/],
    ['255.255.255.255', /broadcast/],
    ['240.0.0.1', /reserved/],
    ['2001:db8::1', /reserved/],
    ['169.254.169.254', /cloud metadata/],
    ['fd00:ec2::254', /cloud metadata/],
    ['::ffff:127.0.0.1', /loopback/],
    ['::ffff:169.254.169.254', /cloud metadata/],
    ['::7f00:1', /non-global/],
    ['2002:a00:1::', /6to4 address embedding a private IPv4/],
    ['64:ff9b::a00:5', /NAT64 address embedding a private IPv4/],
    ['64:ff9b::7f00:1', /NAT64 address embedding a loopback IPv4/],
    ['64:ff9b:1::1', /local-use NAT64/],
    ['::ffff:0:a00:1', /IPv4-translated address embedding a private IPv4/],
    // Teredo: relay 65.54.227.120, client 10.0.0.1 stored bit-inverted.
    ['2001:0:4136:e378:8000:63bf:f5ff:fffe', /Teredo address embedding a private IPv4/],
    ['not-an-ip', /not an IP/],
    ['127.1', /not an IP/],
  ])('refuses %s', (ip, reason) => {
    expect(strict.refusalReason(ip, 'example.test')).toMatch(reason);
    expect(strict.isAllowedAddress(ip, 'example.test')).toBe(false);
  });

  it.each([
    '93.184.216.34',
    '2606:2800:220:1:248:1893:25c8:1946',
    '::ffff:93.184.216.34',
    '2002:5db8:d822::1',
    '64:ff9b::5db8:d822',
    '2001:0:4136:e378:8000:63bf:a247:27dd',
  ])('allows public %s', (ip) => {
    expect(strict.refusalReason(ip, 'example.test')).toBeNull();
  });
});

describe('address policy with allowlist', () => {
  const policy = createAddressPolicy([
    '127.0.0.1',
    '::1',
    '10.0.0.0/8',
    'LocalHost.',
    'media.example.test',
    '169.254.0.0/16',
    'fc00::/7',
  ]);

  it('allows listed IPs and CIDR members, including the IPv4 behind a mapped address', () => {
    for (const ip of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.200.3.4', '169.254.1.1']) {
      expect(policy.refusalReason(ip, 'other.test')).toBeNull();
    }
    expect(policy.refusalReason('127.0.0.2', 'other.test')).toMatch(/loopback/);
    expect(policy.refusalReason('192.168.0.1', 'other.test')).toMatch(/private/);
  });

  it('allows any address of a listed hostname, compared case- and trailing-dot-insensitively', () => {
    expect(policy.refusalReason('192.168.0.1', 'media.example.test')).toBeNull();
    expect(policy.refusalReason('127.0.0.5', 'localhost')).toBeNull();
    expect(policy.refusalReason('127.0.0.5', 'LOCALHOST.')).toBeNull();
  });

  it('keeps metadata addresses refused unless the exact address is listed', () => {
    expect(policy.refusalReason('169.254.169.254', 'media.example.test')).toMatch(/metadata/);
    expect(policy.refusalReason('fd00:ec2::254', 'other.test')).toMatch(/metadata/);
    const explicit = createAddressPolicy(['169.254.169.254']);
    expect(explicit.refusalReason('169.254.169.254', 'other.test')).toBeNull();
  });

  it.each(['not a host!', '127.1', '10.0.0.0/33', '10.1/8', '::ffff:10.0.0.0/104', ''])(
    'rejects the invalid entry %j',
    (entry) => {
      expect(() => createAddressPolicy([entry])).toThrow(/Invalid outbound allowlist entry/);
    },
  );
});
