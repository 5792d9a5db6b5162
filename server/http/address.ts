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

/**
 * The key a client address is counted under, for rate limits and connection caps. IPv4
 * (also written IPv4-mapped, `::ffff:1.2.3.4`) is the address itself; IPv6 is its /64,
 * since one host or one subscriber line is handed a whole /64 and can pick any address
 * in it. Anything else (a forwarded value that is not an address) is kept as it is.
 */
export function addressKey(ip: string | undefined): string | undefined {
  if (!ip) return undefined;
  if (isIPv4(ip)) return ip;
  const groups = ipv6Groups(ip);
  if (!groups) return ip;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join('.');
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}
