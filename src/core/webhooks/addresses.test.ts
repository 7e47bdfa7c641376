// Which addresses and hosts are inside the deployment, by a table; and endpoint URLs refused for it.
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { internalHost, internalKind, isInternalAddress, type InternalKind } from './addresses.js';
import { applyChange, validateNewEndpoint, validateUrl } from './endpoint.js';

const TABLE: [string, InternalKind | null][] = [
  // IPv4
  ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['127.1.2.3', 'loopback'],
  ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'],
  ['10.0.0.5', 'private'], ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['172.15.255.255', null], ['172.32.0.0', null],
  ['192.168.1.1', 'private'], ['192.169.0.1', null],
  ['100.64.0.1', 'shared'], ['100.127.255.255', 'shared'], ['100.63.255.255', null], ['100.128.0.0', null],
  ['169.254.169.254', 'link-local'], ['169.254.0.1', 'link-local'], ['169.255.0.1', null],
  ['224.0.0.1', 'multicast'], ['239.255.255.250', 'multicast'],
  ['255.255.255.255', 'broadcast'], ['240.0.0.1', 'reserved'], ['198.18.0.1', 'reserved'], ['192.0.2.10', 'reserved'],
  ['8.8.8.8', null], ['1.1.1.1', null], ['93.184.215.14', null], ['11.0.0.1', null], ['126.255.255.255', null], ['128.0.0.1', null],
  // IPv6
  ['::1', 'loopback'], ['0:0:0:0:0:0:0:1', 'loopback'], ['[::1]', 'loopback'],
  ['::', 'unspecified'],
  ['fe80::1', 'link-local'], ['fe80::1%eth0', 'link-local'], ['febf:ffff::1', 'link-local'],
  ['fc00::1', 'unique-local'], ['fd12:3456:789a::1', 'unique-local'],
  ['ff02::1', 'multicast'], ['2001:db8::1', 'reserved'], ['fec0::1', 'reserved'], ['::8.8.8.8', 'reserved'],
  ['2606:4700:4700::1111', null], ['2001:4860:4860::8888', null], ['fe00::1', null], ['fbff::1', null],
  // IPv4-mapped, NAT64 and 6to4: the IPv4 address inside decides
  ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['[::ffff:7f00:1]', 'loopback'], ['::FFFF:10.0.0.5', 'private'],
  ['::ffff:169.254.169.254', 'link-local'], ['::ffff:a9fe:a9fe', 'link-local'], ['0:0:0:0:0:ffff:c0a8:101', 'private'],
  ['::ffff:8.8.8.8', null], ['::ffff:808:808', null],
  ['64:ff9b::10.0.0.5', 'private'], ['64:ff9b::a9fe:a9fe', 'link-local'], ['64:ff9b::808:808', null],
  ['2002:7f00:1::', 'loopback'], ['2002:a00:5::1', 'private'], ['2002:808:808::1', null],
  // not addresses
  ['localhost', null], ['example.com', null], ['', null], ['127.1', null], ['[127.0.0.1]', null],
];

describe('internal addresses', () => {
  it.each(TABLE)('%s is %s', (address, kind) => {
    expect(internalKind(address)).toBe(kind);
    expect(isInternalAddress(address)).toBe(kind !== null);
  });
});

describe('internal hosts (a URL hostname, without DNS)', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1 is a loopback address'],
    ['[::1]', '::1 is a loopback address'],
    ['[::ffff:7f00:1]', '::ffff:7f00:1 is a loopback address'],
    ['169.254.169.254.', '169.254.169.254 is a link-local address'],
    ['10.0.0.5', '10.0.0.5 is a private address'],
    ['localhost', 'localhost is this machine'],
    ['LOCALHOST.', 'localhost is this machine'],
    ['api.localhost', 'api.localhost is this machine'],
    ['example.com', null], ['8.8.8.8', null], ['[2606:4700:4700::1111]', null], ['localhost.example.com', null], ['notlocalhost', null],
  ])('%s: %s', (host, reason) => {
    expect(internalHost(host)).toBe(reason);
  });
});

describe('endpoint URLs', () => {
  const strict = { allowPrivate: false };
  const allowing = { allowPrivate: true };
  const refusal = (f: () => unknown): DomainError => {
    try {
      f();
    } catch (e) {
      return e as DomainError;
    }
    throw new Error('not refused');
  };

  it.each([
    'http://127.0.0.1/x', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://localhost:8080/', 'https://LocalHost./hooks',
    'http://10.0.0.5/', 'http://172.16.3.4:8080/', 'http://192.168.0.10/', 'http://100.64.1.1/', 'http://0.0.0.0:5432/', 'http://[fd00::1]/',
    'http://[::ffff:127.0.0.1]/', 'http://[fe80::1]/', 'http://grafana.localhost/',
    // forms URL normalises to 127.0.0.1 or 0.0.0.0
    'http://2130706433/', 'http://0x7f.1/', 'http://127.1:5432/', 'http://0/', 'http://017700000001/',
  ])('refuses %s, naming url, unless the deployment allows it', (url) => {
    const e = refusal(() => validateUrl(url, strict));
    expect(e).toBeInstanceOf(DomainError);
    expect(e).toMatchObject({ code: 'validation', field: 'url' });
    expect(e.message).toMatch(/^url must not point inside the deployment: .+ is (a .+|an .+|this machine) \(the operator can allow it with LAUREL_WEBHOOKS_ALLOW_PRIVATE=true\)$/);
    expect(validateUrl(url, allowing)).toBe(new URL(url).href);
  });

  it('takes public addresses and names (a name that resolves inside is the sender\'s to refuse)', () => {
    for (const url of ['https://example.com/hooks', 'http://8.8.8.8/', 'https://[2606:4700:4700::1111]/x', 'https://localhost.example.com/', 'http://internal/']) {
      expect(validateUrl(url, strict)).toBe(new URL(url).href);
    }
  });

  it('checks the URL at creation and when it changes; other changes leave an accepted URL alone', () => {
    expect(refusal(() => validateNewEndpoint({ url: 'http://127.0.0.1:5432/' }, strict))).toMatchObject({ field: 'url', message: expect.stringContaining('127.0.0.1 is a loopback address') });
    const current = validateNewEndpoint({ url: 'http://127.0.0.1:9000/' }, allowing);
    expect(refusal(() => applyChange(current, { url: 'http://[::1]:9000/' }, strict))).toMatchObject({ field: 'url' });
    expect(applyChange(current, { enabled: false }, strict)).toEqual({ ...current, enabled: false });
  });
});
