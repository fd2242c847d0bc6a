/**
 * IP addresses as IPVS carries them: a 16-byte `union nf_inet_addr` (IPv4 in the first 4 bytes, the rest zero).
 * Text form is canonical (IPv4 dotted quad, IPv6 RFC 5952) so that keys built from desired and observed state match.
 */
import type { Family } from './model.ts';

export function familyOf(address: string): Family {
  return address.includes(':') ? 6 : 4;
}

/** Parses IPv4 or IPv6 text (including "::ffff:1.2.3.4" tails) into 4 or 16 bytes. Throws on malformed input. */
export function parseAddress(address: string): Buffer {
  if (!address.includes(':')) {
    const parts = address.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${address}`);
    return Buffer.from(parts);
  }
  let text = address.toLowerCase();
  const out = Buffer.alloc(16);
  let tailV4: Buffer | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseAddress(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`not an IPv6 address: ${address}`);
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) throw new Error(`not an IPv6 address: ${address}`);
  groups.forEach((g, i) => {
    out.writeUInt16BE(parseInt(g, 16), i * 2);
  });
  if (tailV4) tailV4.copy(out, 12);
  return out;
}

export function formatAddress(bytes: Buffer, family: Family): string {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(bytes.readUInt16BE(i * 2));
  // RFC 5952: compress the longest run (length ≥ 2) of zero groups, the first one on ties.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

const canonicalMemo = new Map<string, string>();

/** Canonical text of an address. Memoised: a 1,000-service config names the same few thousand addresses each apply. */
export function canonical(address: string): string {
  let c = canonicalMemo.get(address);
  if (c === undefined) {
    c = formatAddress(parseAddress(address), familyOf(address));
    if (canonicalMemo.size > 100_000) canonicalMemo.clear();
    canonicalMemo.set(address, c);
  }
  return c;
}

/** The 16-byte nf_inet_addr. */
export function inetAddr(address: string): Buffer {
  const b = parseAddress(address);
  if (b.length === 16) return b;
  const out = Buffer.alloc(16);
  b.copy(out);
  return out;
}

/** IPv4 prefix length → the big-endian mask bytes IPVS expects ("/24" → ff ff ff 00). */
export function prefixToMask4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function maskToPrefix4(mask: number): number {
  let n = 0;
  for (let m = mask >>> 0; m & 0x80000000; m = (m << 1) >>> 0) n++;
  return n;
}
