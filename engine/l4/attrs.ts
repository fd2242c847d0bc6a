/**
 * Netlink attributes (struct nlattr) and message framing, the generic part under the IPVS codec.
 *
 *   nlmsghdr (16 bytes, host order)             genlmsghdr (4 bytes)        attributes …
 *   ┌──────────┬────────┬────────┬──────┬──────┬─────┬─────────┬────────┬─────────────────────────────┐
 *   │ len u32  │ type   │ flags  │ seq  │ pid  │ cmd │ version │ rsvd   │ nla_len u16 │ nla_type u16 │
 *   │          │ u16    │ u16    │ u32  │ u32  │ u8  │ u8      │ u16    │ payload, padded to 4 bytes   │
 *   └──────────┴────────┴────────┴──────┴──────┴─────┴─────────┴────────┴─────────────────────────────┘
 *   nla_type carries NLA_F_NESTED (0x8000) on nested attributes sent by ipvsadm; the kernel's replies omit it, so
 *   readers mask the type with 0x3fff. Integers are host order (little-endian here) except ports, IPv4 masks and
 *   multicast groups, which are big-endian on the wire.
 */

const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLMSG_ERROR = 0x2;

const align = (n: number) => (n + 3) & ~3;

export type Attr = Buffer;

function attr(type: number, payload: Buffer): Attr {
  const len = 4 + payload.length;
  const out = Buffer.alloc(align(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

export const u8 = (type: number, v: number) => attr(type, Buffer.from([v & 0xff]));
export function u16(type: number, v: number): Attr {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return attr(type, b);
}
export function be16(type: number, v: number): Attr {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return attr(type, b);
}
export function u32(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return attr(type, b);
}
export function be32(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return attr(type, b);
}
/** NUL-terminated string, as the kernel's NLA_NUL_STRING policy wants. */
export const str = (type: number, s: string) => attr(type, Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]));
export const nested = (type: number, children: Attr[]) => attr(type | NLA_F_NESTED, Buffer.concat(children));

/** Attributes by type (last one wins, as in the kernel's nla_parse). */
export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < 4 || off + len > buf.length) throw new Error(`malformed netlink attribute at offset ${off} (length ${len})`);
    out.set(type, buf.subarray(off + 4, off + len));
    off += align(len);
  }
  return out;
}

export const readU8 = (b: Buffer | undefined) => (b && b.length >= 1 ? b.readUInt8(0) : undefined);
export const readU16 = (b: Buffer | undefined) => (b && b.length >= 2 ? b.readUInt16LE(0) : undefined);
export const readBe16 = (b: Buffer | undefined) => (b && b.length >= 2 ? b.readUInt16BE(0) : undefined);
export const readU32 = (b: Buffer | undefined) => (b && b.length >= 4 ? b.readUInt32LE(0) : undefined);
export const readBe32 = (b: Buffer | undefined) => (b && b.length >= 4 ? b.readUInt32BE(0) : undefined);
export const readU64 = (b: Buffer | undefined) => (b && b.length >= 8 ? Number(b.readBigUInt64LE(0)) : undefined);
export function readStr(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

/** One whole netlink message: header, genl header, attributes. */
export function frame(m: { type: number; flags: number; seq: number; pid: number; cmd: number; version: number; attrs: Attr[] }): Buffer {
  const body = Buffer.concat(m.attrs);
  const out = Buffer.alloc(16 + 4 + body.length);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(m.type, 4);
  out.writeUInt16LE(m.flags, 6);
  out.writeUInt32LE(m.seq >>> 0, 8);
  out.writeUInt32LE(m.pid >>> 0, 12);
  out.writeUInt8(m.cmd, 16);
  out.writeUInt8(m.version, 17);
  body.copy(out, 20);
  return out;
}

/** struct nlmsgerr: a negative errno (0 = ACK) then the offending request's header. */
export function readErrno(data: Buffer): number {
  return -data.readInt32LE(0);
}
