/**
 * The one text form of an IP address, built on ipaddr.js, so that keys made from the schema, from the kernel's
 * read-back, from a socket and from a health check agree (the L4 reconciler compares desired with observed keys).
 *
 *   given                              canonical               why
 *   10.0.0.1                           10.0.0.1                IPv4: dotted quad, four decimal parts, no leading zeros
 *   2001:0DB8:0000::0001               2001:db8::1             RFC 5952 §4.1 no leading zeros, §4.3 lower case
 *   2001:db8:0:0:1:0:0:1               2001:db8::1:0:0:1       §4.2.3 the longest run of zeros is "::", the first on ties
 *   2001:db8:0:1:1:1:1:1               2001:db8:0:1:1:1:1:1    §4.2.2 "::" never stands for one group
 *   0:0:0:0:0:0:0:0 / ::1              :: / ::1
 *   ::ffff:1.2.3.4, ::ffff:102:304     ::ffff:1.2.3.4          §5 mixed notation for IPv4-mapped (see below)
 *   ::1.2.3.4 (RFC 4291 §2.5.5.1)      ::102:304               deprecated IPv4-compatible: not a mapped address
 *   fe80::1%eth0                       fe80::1%eth0            the zone id is kept, verbatim
 *   anything else                      unchanged               (the schema refuses it; comparisons stay exact)
 *
 * IPv4-mapped addresses stay IPv6. An IPVS service on ::ffff:10.0.0.1 is an AF_INET6 service, not the AF_INET one on
 * 10.0.0.1, and its wire bytes are 16; folding it to "10.0.0.1" would give the schema's key another family than the
 * kernel reports. The dotted tail is how RFC 5952 §5 recommends writing them, and how Node names a v4 client on a
 * dual-stack socket. Code that wants the IPv4 client behind such an address asks `unmappedAddress`.
 *
 * Zone ids: the schema refuses them (an appliance's addresses are global), but a socket may name a link-local peer
 * "fe80::1%eth0". The zone is an interface name, which Linux compares case-sensitively, and fe80::1%eth0 is not
 * fe80::1%eth1, so it is kept as given. Wire encoding (`addressBytes`) refuses a zone: 16 bytes cannot carry it.
 */
import ipaddr from 'ipaddr.js';

type Ip = ipaddr.IPv4 | ipaddr.IPv6;

// A 1,000-service configuration names the same few thousand addresses at every apply, and ipaddr.js takes a few
// microseconds per parse; the memo makes the second apply's canonical forms a map look-up.
const MEMO_LIMIT = 100_000;
const textMemo = new Map<string, string>();

/** The canonical text of an IP address (the table above); text that is not an address comes back unchanged. */
export function canonicalAddress(address: string): string {
  let c = textMemo.get(address);
  if (c === undefined) {
    const ip = parseIp(address);
    c = ip ? ipText(ip) : address;
    remember(textMemo, address, c);
  }
  return c;
}

/** Whether two texts name the same address (and zone). */
export function sameAddress(a: string, b: string): boolean {
  return a === b || canonicalAddress(a) === canonicalAddress(b);
}

/** 4 bytes for IPv4, 16 for IPv6 (network order). Throws on text that is not an address, or has a zone id. */
export function addressBytes(address: string): number[] {
  const ip = parseIp(address);
  if (!ip || (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).zoneId !== undefined)) throw new Error(`not an IP address: ${address}`);
  return ip.toByteArray();
}

/** The canonical text of 4 or 16 bytes in network order. */
export function addressFromBytes(bytes: ArrayLike<number>): string {
  return ipText(ipaddr.fromByteArray(Array.from(bytes)));
}

/** "::ffff:10.0.0.1" (a v4 client on a dual-stack socket) is 10.0.0.1; any other text comes back as given. */
export function unmappedAddress(address: string): string {
  // Only text with both a colon and a dot can be a mapped address; the rest (every plain v4 and v6 client) is
  // answered without a parse, as this runs per request.
  if (!address.includes('.') || !address.includes(':')) return address;
  const ip = parseIp(address);
  return ip?.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && (ip as ipaddr.IPv6).zoneId === undefined
    ? (ip as ipaddr.IPv6).toIPv4Address().toString()
    : address;
}

// ipaddr.js reads "::1.2.3.4" as "::ffff:1.2.3.4" and lets octal or hex parts into a dotted tail; RFC 4291 §2.2
// (form 3) makes the tail the low 32 bits in decimal. So the tail is turned into two hex groups before parsing.
const DOTTED_TAIL = /^(.*:)([^:%]*\.[^:%]*)(%.*)?$/;

function parseIp(text: string): Ip | undefined {
  if (!text.includes(':')) return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : undefined;
  let hex = text;
  const m = DOTTED_TAIL.exec(text);
  if (m) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(m[2])) return undefined;
    const [a, b, c, d] = ipaddr.IPv4.parse(m[2]).octets;
    hex = `${m[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}${m[3] ?? ''}`;
  }
  return ipaddr.IPv6.isValid(hex) ? ipaddr.IPv6.parse(hex) : undefined;
}

function ipText(ip: Ip): string {
  if (ip.kind() === 'ipv4') return ip.toString();
  const v6 = ip as ipaddr.IPv6;
  if (!v6.isIPv4MappedAddress()) return v6.toRFC5952String();
  return `::ffff:${v6.toIPv4Address().toString()}${v6.zoneId === undefined ? '' : `%${v6.zoneId}`}`;
}

function remember(memo: Map<string, string>, key: string, value: string): void {
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, value);
}
