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

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export interface ProxyEndpoints {
  sourceAddress: string;
  sourcePort: number;
  destAddress: string;
  destPort: number;
}

function v4(address: string): string | undefined {
  if (net.isIPv4(address)) return address;
  if (address.startsWith('::ffff:') && net.isIPv4(address.slice(7))) return address.slice(7);
  return undefined;
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

function v6Bytes(address: string): Buffer {
  const out = Buffer.alloc(16);
  let text = address;
  // A trailing dotted quad ("::ffff:10.0.0.1") becomes two groups.
  const dot = text.lastIndexOf(':');
  const tailV4 = text.slice(dot + 1);
  if (net.isIPv4(tailV4)) {
    const o = tailV4.split('.').map(Number);
    text = `${text.slice(0, dot + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = [...h, ...Array(tail !== undefined ? 8 - h.length - t.length : 0).fill('0'), ...t];
  groups.forEach((g, i) => {
    out.writeUInt16BE(parseInt(g || '0', 16), i * 2);
  });
  return out;
}

export function proxyHeader(version: 'v1' | 'v2', e: ProxyEndpoints): Buffer {
  return version === 'v1' ? proxyHeaderV1(e) : proxyHeaderV2(e);
}
