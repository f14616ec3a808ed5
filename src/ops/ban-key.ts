// The key an address is scored and banned under: an IPv4 address as itself, an IPv6 address as
// its /64 (one host controls a whole /64, so banning one address of it would stop nobody).
// Shared by the defender, the admin endpoint and `pysftpproxy bans remove`, so an operator may
// name a banned IPv6 client by any of its addresses.
import ipaddr from 'ipaddr.js';

export function banKey(ip: string): string {
  try {
    const a = ipaddr.process(ip);
    if (a.kind() === 'ipv6') return `${ipaddr.IPv6.networkAddressFromCIDR(`${a.toString()}/64`).toString()}/64`;
    return a.toString();
  } catch {
    return ip;
  }
}

/**
 * What an operator typed to name a ban: an address, or a key as `bans list` shows it (an IPv6
 * network in /64 form). Undefined when it is neither.
 */
export function parseBanTarget(text: string): string | undefined {
  const t = text.trim();
  if (t.includes('/')) {
    try {
      const [net, bits] = ipaddr.parseCIDR(t);
      return net.kind() === 'ipv6' && bits === 64 ? banKey(net.toString()) : undefined;
    } catch {
      return undefined;
    }
  }
  return ipaddr.isValid(t) && (t.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(t)) ? banKey(t) : undefined;
}
