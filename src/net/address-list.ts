// A list of addresses and CIDR ranges from configuration (--proxy-protocol-from, --defender-allow),
// matched with ipaddr.js so that IPv4-mapped IPv6 addresses (::ffff:10.0.0.1, how a dual-stack
// listener reports IPv4 clients) match their IPv4 ranges.
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** An address as the kernel reports it, in its plain form (IPv4-mapped IPv6 unwrapped). */
export function normalizeIp(ip: string): string {
  try {
    return ipaddr.process(ip).toString();
  } catch {
    return ip;
  }
}

export class AddressList {
  private constructor(private readonly ranges: Range[], readonly text: string) {}

  static readonly EMPTY = new AddressList([], '');

  /** `items`: addresses or CIDR ranges; throws with the bad item named. */
  static parse(items: readonly string[]): AddressList {
    const ranges: Range[] = [];
    for (const raw of items) {
      const item = raw.trim();
      if (item === '') continue;
      try {
        if (item.includes('/')) ranges.push(ipaddr.parseCIDR(item));
        else {
          const a = ipaddr.process(item);
          ranges.push([a, a.kind() === 'ipv4' ? 32 : 128]);
        }
      } catch {
        throw new Error(`${JSON.stringify(item)} is not an IP address or CIDR range (e.g. 10.0.0.0/8, 2001:db8::/32, 127.0.0.1)`);
      }
    }
    return new AddressList(ranges, items.join(','));
  }

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  has(ip: string): boolean {
    if (this.ranges.length === 0) return false;
    let a: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      a = ipaddr.process(ip);
    } catch {
      return false;
    }
    return this.ranges.some(([range, bits]) => range.kind() === a.kind() && a.match(range, bits));
  }
}
