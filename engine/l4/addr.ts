/**
 * IP addresses as IPVS carries them: a 16-byte `union nf_inet_addr` (IPv4 in the first 4 bytes, the rest zero).
 * Text form is canonical (IPv4 dotted quad, IPv6 RFC 5952) so that keys built from desired and observed state match.
 */
import { addressBytes, addressFromBytes, canonicalAddress } from '../config/address.ts';
import type { Family } from './model.ts';

export function familyOf(address: string): Family {
  return address.includes(':') ? 6 : 4;
}

const parseMemo = new Map<string, Buffer>();

/**
 * 4 or 16 bytes (ipaddr.js, through the config's one address parser). Throws on malformed input or a zone id.
 * Memoised (a copy is returned): an apply encodes every configured address, the same ones each time.
 */
export function parseAddress(address: string): Buffer {
  let b = parseMemo.get(address);
  if (b === undefined) {
    b = Buffer.from(addressBytes(address));
    if (parseMemo.size >= 100_000) parseMemo.clear();
    parseMemo.set(address, b);
  }
  return Buffer.from(b);
}

const formatMemo = new Map<string, string>();

/**
 * The canonical text (engine/config/address.ts) of an address the kernel reported in a 16-byte nf_inet_addr.
 * Memoised by the bytes' hex: a dump of 1,000 services × 4 destinations formats the same addresses each read-back,
 * and ipaddr.js's formatting costs microseconds where a hex key costs a tenth of one.
 */
export function formatAddress(bytes: Buffer, family: Family): string {
  const key = bytes.toString('hex', 0, family === 4 ? 4 : 16);
  let text = formatMemo.get(key);
  if (text === undefined) {
    text = addressFromBytes(bytes.subarray(0, family === 4 ? 4 : 16));
    if (formatMemo.size >= 100_000) formatMemo.clear();
    formatMemo.set(key, text);
  }
  return text;
}

/** The config's canonicalAddress under its old name, for engine/ha's imports (its owner may switch); one implementation. */
export const canonical = canonicalAddress;

/** The 16-byte nf_inet_addr. */
export function inetAddr(address: string): Buffer {
  const b = parseAddress(address);
  if (b.length === 16) return b;
  const out = Buffer.allocUnsafe(16).fill(0); // from Node's pool (attrs.ts zeroed says why)
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
