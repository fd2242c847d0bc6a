/**
 * PROXY protocol headers sent to a real server before the client's bytes (haproxy.org/download/2.6/doc/proxy-protocol.txt).
 *
 *   v1: "PROXY TCP4 <src> <dst> <sport> <dport>\r\n" (text)
 *   v2: 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A   signature (12 bytes)
 *       21                                    version 2, command PROXY
 *       11 | 21                               AF_INET | AF_INET6, STREAM
 *       LL LL                                 address block length (12 or 36), big-endian
 *       src addr, dst addr, src port, dst port
 */
import net from 'node:net';
import { addressBytes, unmappedAddress } from '../config/address.ts';

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export interface ProxyEndpoints {
  sourceAddress: string;
  sourcePort: number;
  destAddress: string;
  destPort: number;
}

function v4(address: string): string | undefined {
  const a = unmappedAddress(address);
  return net.isIPv4(a) ? a : undefined;
}

export function proxyHeaderV1(e: ProxyEndpoints): Buffer {
  const s4 = v4(e.sourceAddress);
  const d4 = v4(e.destAddress);
  if (s4 && d4) return Buffer.from(`PROXY TCP4 ${s4} ${d4} ${e.sourcePort} ${e.destPort}\r\n`, 'latin1');
  if (!net.isIP(e.sourceAddress) || !net.isIP(e.destAddress)) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  return Buffer.from(`PROXY TCP6 ${toV6(e.sourceAddress)} ${toV6(e.destAddress)} ${e.sourcePort} ${e.destPort}\r\n`, 'latin1');
}

export function proxyHeaderV2(e: ProxyEndpoints): Buffer {
  const s4 = v4(e.sourceAddress);
  const d4 = v4(e.destAddress);
  if (s4 && d4) {
    const b = Buffer.alloc(16 + 12);
    V2_SIGNATURE.copy(b, 0);
    b[12] = 0x21;
    b[13] = 0x11;
    b.writeUInt16BE(12, 14);
    s4.split('.').forEach((o, i) => {
      b[16 + i] = Number(o);
    });
    d4.split('.').forEach((o, i) => {
      b[20 + i] = Number(o);
    });
    b.writeUInt16BE(e.sourcePort, 24);
    b.writeUInt16BE(e.destPort, 26);
    return b;
  }
  const b = Buffer.alloc(16 + 36);
  V2_SIGNATURE.copy(b, 0);
  b[12] = 0x21;
  b[13] = 0x21;
  b.writeUInt16BE(36, 14);
  v6Bytes(toV6(e.sourceAddress)).copy(b, 16);
  v6Bytes(toV6(e.destAddress)).copy(b, 32);
  b.writeUInt16BE(e.sourcePort, 48);
  b.writeUInt16BE(e.destPort, 50);
  return b;
}

function toV6(address: string): string {
  return net.isIPv4(address) ? `::ffff:${address}` : address;
}

/**
 * The 16 bytes of an IPv6 address. The v2 address block has no room for a zone id, so a link-local peer's "%eth0" is
 * left out (sockaddr_in6 keeps it apart from the address too). A socket that closed before the header was built has
 * no address: zeros then, as the header must still be sent whole, never an exception in the data path.
 */
function v6Bytes(address: string): Buffer {
  const zone = address.indexOf('%');
  try {
    return Buffer.from(addressBytes(zone < 0 ? address : address.slice(0, zone)));
  } catch {
    return Buffer.alloc(16);
  }
}

export function proxyHeader(version: 'v1' | 'v2', e: ProxyEndpoints): Buffer {
  return version === 'v1' ? proxyHeaderV1(e) : proxyHeaderV2(e);
}
