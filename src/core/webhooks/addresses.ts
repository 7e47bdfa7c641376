// Whether a webhook would reach inside the deployment: an IP address that is not on the public
// internet (loopback, private, link-local and cloud metadata, carrier-grade NAT, unique-local,
// multicast, broadcast, reserved), or a host name that means this machine (localhost). Pure: it
// parses text and matches subnets, it resolves nothing. (node:net's isIP and BlockList would do
// the matching, but the core imports no node:net; the table's tests hold this to the same.)

export type InternalKind =
  | 'unspecified' | 'loopback' | 'private' | 'shared' | 'link-local' | 'unique-local' | 'multicast' | 'broadcast' | 'reserved';

const DESCRIPTIONS: Record<InternalKind, string> = {
  unspecified: 'an unspecified address',
  loopback: 'a loopback address',
  private: 'a private address',
  shared: 'a carrier-grade NAT address',
  'link-local': 'a link-local address',
  'unique-local': 'a unique-local address',
  multicast: 'a multicast address',
  broadcast: 'a broadcast address',
  reserved: 'a reserved address',
};

/** "a private address", "a loopback address"… */
export const describeKind = (kind: InternalKind): string => DESCRIPTIONS[kind];

type Subnet = readonly [InternalKind, string, number];

/**
 * The subnets, first match wins (broadcast before the reserved 240/4 that holds it; :: and ::1
 * before ::/96). IPv4-mapped, NAT64 and 6to4 IPv6 addresses are unwrapped to the IPv4 address
 * they stand for first (see embeddedIpv4), and that is matched against the IPv4 list.
 */
const IPV4: readonly Subnet[] = [
  ['unspecified', '0.0.0.0', 8], // "this network": 0.0.0.0 connects to the machine itself
  ['loopback', '127.0.0.0', 8],
  ['private', '10.0.0.0', 8],
  ['private', '172.16.0.0', 12],
  ['private', '192.168.0.0', 16],
  ['shared', '100.64.0.0', 10],
  ['link-local', '169.254.0.0', 16], // 169.254.169.254: the cloud metadata service
  ['multicast', '224.0.0.0', 4],
  ['broadcast', '255.255.255.255', 32],
  ['reserved', '240.0.0.0', 4],
  ['reserved', '192.0.0.0', 24], // IETF protocol assignments
  ['reserved', '192.0.2.0', 24], // documentation (TEST-NET-1, -2, -3)
  ['reserved', '198.51.100.0', 24],
  ['reserved', '203.0.113.0', 24],
  ['reserved', '198.18.0.0', 15], // benchmarking
];
const IPV6: readonly Subnet[] = [
  ['unspecified', '::', 128],
  ['loopback', '::1', 128],
  ['reserved', '::', 96], // IPv4-compatible (deprecated)
  ['reserved', '64:ff9b:1::', 48], // local-use IPv4/IPv6 translation
  ['reserved', '100::', 64], // discard
  ['reserved', '2001:db8::', 32], // documentation
  ['unique-local', 'fc00::', 7],
  ['link-local', 'fe80::', 10],
  ['reserved', 'fec0::', 10], // site-local (deprecated)
  ['multicast', 'ff00::', 8],
];

const compile = (subnets: readonly Subnet[], parse: (s: string) => number[] | null, bits: number) =>
  subnets.map(([kind, network, prefix]) => ({ kind, network: parse(network)!, prefix, bits }));
const V4 = compile(IPV4, ipv4Octets, 8);
const V6 = compile(IPV6, ipv6Groups, 16);

/**
 * What kind of internal address `address` is (IPv4, or IPv6 with or without brackets and zone),
 * or null when it is a public address — or not an IP address at all.
 */
export function internalKind(address: string): InternalKind | null {
  if (address.startsWith('[') && address.endsWith(']')) {
    const groups = ipv6Groups(address.slice(1, -1));
    return groups ? kindOfIpv6(groups) : null;
  }
  const octets = ipv4Octets(address);
  if (octets) return match(octets, V4);
  const groups = ipv6Groups(address);
  return groups ? kindOfIpv6(groups) : null;
}

export const isInternalAddress = (address: string): boolean => internalKind(address) !== null;

function kindOfIpv6(groups: number[]): InternalKind | null {
  const v4 = embeddedIpv4(groups);
  return v4 ? match(v4, V4) : match(groups, V6);
}

/** The kind of the first subnet holding the address (its octets or 16-bit groups). */
function match(parts: number[], subnets: typeof V4): InternalKind | null {
  return subnets.find(({ network, prefix, bits }) => {
    for (let i = 0, left = prefix; left > 0; i++, left -= bits) {
      const keep = Math.min(left, bits);
      const mask = ((1 << keep) - 1) << (bits - keep);
      if ((parts[i]! & mask) !== (network[i]! & mask)) return false;
    }
    return true;
  })?.kind ?? null;
}

/**
 * The IPv4 address (as octets) an IPv6 address stands for, when it does: IPv4-mapped
 * (::ffff:a.b.c.d, the form a dual-stack socket gives IPv4 peers), NAT64 (64:ff9b::a.b.c.d,
 * translated to IPv4 by a gateway) and 6to4 (2002:AABB:CCDD::, routed to a.b.c.d). Else null.
 */
function embeddedIpv4(g: number[]): number[] | null {
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const octets = (hi: number, lo: number) => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
  if (zeros(0, 5) && g[5] === 0xffff) return octets(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return octets(g[6]!, g[7]!);
  if (g[0] === 0x2002) return octets(g[1]!, g[2]!);
  return null;
}

/** The four octets of a dotted-quad IPv4 address (decimal, as URL and DNS write them), or null. */
function ipv4Octets(text: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/**
 * The eight 16-bit groups of an IPv6 address (:: expanded, a trailing dotted quad converted, a
 * zone such as %eth0 dropped: it says which interface, not which address), or null.
 */
function ipv6Groups(address: string): number[] | null {
  let text = address.replace(/%[^%]+$/, '');
  const quad = /:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(text);
  if (quad) {
    const o = ipv4Octets(quad[1]!);
    if (!o) return null;
    text = `${text.slice(0, quad.index + 1)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((h) => (/^[0-9a-f]{1,4}$/i.test(h) ? parseInt(h, 16) : NaN)));
  const left = parse(halves[0]!);
  const right = halves.length === 2 ? parse(halves[1]!) : [];
  if ([...left, ...right].some(Number.isNaN)) return null;
  if (halves.length === 1) return left.length === 8 ? left : null;
  const missing = 8 - left.length - right.length;
  return missing >= 1 ? [...left, ...new Array<number>(missing).fill(0), ...right] : null;
}

/** A URL's hostname as a name or an address: no brackets around IPv6, no trailing dot. */
export function bareHost(hostname: string): string {
  const h = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/**
 * Why a URL's host (its `hostname`, as URL parsed and normalised it) is inside the deployment by
 * itself, without asking DNS: an internal IP address, or `localhost` and its subdomains (RFC 6761:
 * they always mean this machine). Null for any other host; a name may still resolve inside, which
 * only the sender, resolving it, can tell.
 */
export function internalHost(hostname: string): string | null {
  const host = bareHost(hostname.toLowerCase());
  const kind = internalKind(host);
  if (kind) return `${host} is ${describeKind(kind)}`;
  if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is this machine`;
  return null;
}
