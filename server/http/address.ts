import { isIPv4, isIPv6 } from 'node:net';

/** The 8 groups of an IPv6 address ('::' expanded, a trailing dotted quad as two groups), or undefined. */
function ipv6Groups(ip: string): number[] | undefined {
  let s = ip.split('%')[0];
  if (!isIPv6(s)) return undefined;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number);
    s = `${s.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const [head, tail] = s.split('::');
  if (tail === undefined) return parse(head);
  const h = parse(head);
  const t = parse(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/** An address as its groups: 4 of 8 bits (IPv4, also written IPv4-mapped, `::ffff:1.2.3.4`) or 8 of 16 (IPv6). */
function addressGroups(ip: string): { v4: boolean; groups: number[] } | undefined {
  if (isIPv4(ip)) return { v4: true, groups: ip.split('.').map(Number) };
  const g = ipv6Groups(ip);
  if (!g) return undefined;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)
    return { v4: true, groups: [g[6] >> 8, g[6] & 255, g[7] >> 8, g[7] & 255] };
  return { v4: false, groups: g };
}

/**
 * The key a client address is counted under, for rate limits and connection caps. IPv4
 * (also written IPv4-mapped, `::ffff:1.2.3.4`) is the address itself; IPv6 is its /64,
 * since one host or one subscriber line is handed a whole /64 and can pick any address
 * in it. Anything else (a forwarded value that is not an address) is kept as it is.
 */
export function addressKey(ip: string | undefined): string | undefined {
  if (!ip) return undefined;
  if (isIPv4(ip)) return ip;
  const a = addressGroups(ip);
  if (!a) return ip;
  if (a.v4) return a.groups.join('.');
  return `${a.groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** One entry of an address list: an address, or a network in CIDR form (`10.0.0.0/8`, `fd00::/8`). */
interface Network {
  v4: boolean;
  /** The address as bits: 4 groups of 8 (IPv4) or 8 groups of 16 (IPv6). */
  groups: number[];
  prefix: number;
}

/**
 * Parses a comma-separated list of addresses and CIDR networks (METRICS_ALLOW).
 * @throws Error naming the first entry that is neither
 */
export function parseNetworks(list: string): Network[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [ip, bits, ...rest] = entry.split('/');
      const a = rest.length ? undefined : addressGroups(ip);
      const max = a?.v4 ? 32 : 128;
      const prefix = bits === undefined ? max : /^\d+$/.test(bits) ? Number(bits) : NaN;
      if (!a || !(prefix >= 0 && prefix <= max)) throw new Error(`"${entry}" is not an address or a CIDR network`);
      return { ...a, prefix };
    });
}

/** Whether `ip` lies in one of `networks`. */
export function inNetworks(ip: string | undefined, networks: readonly Network[]): boolean {
  const a = ip ? addressGroups(ip) : undefined;
  if (!a) return false;
  const width = a.v4 ? 8 : 16;
  return networks.some((n) => {
    if (n.v4 !== a.v4) return false;
    for (let i = 0, left = n.prefix; left > 0; i++, left -= width) {
      const mask = left >= width ? (1 << width) - 1 : ((1 << width) - 1) ^ ((1 << (width - left)) - 1);
      if ((a.groups[i] & mask) !== (n.groups[i] & mask)) return false;
    }
    return true;
  });
}
