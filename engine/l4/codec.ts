/**
 * IPVS generic netlink codec: model (model.ts) ⇄ attributes. Pure; no sockets. The names and numbers are those of
 * include/uapi/linux/ip_vs.h; the kernel side is net/netfilter/ipvs/ip_vs_ctl.c (ip_vs_genl_*).
 *
 * Family "IPVS", version 1. Request layouts (what ipvsadm 1.31 sends, and what we send):
 *
 *   NEW_SERVICE / SET_SERVICE
 *     SERVICE (nested, 1)
 *       ├ AF u16 │ PROTOCOL u16 │ ADDR 16 bytes │ PORT be16      (or AF u16 │ FWMARK u32 for firewall-mark services)
 *       └ SCHED_NAME string │ FLAGS {flags u32, mask u32} │ TIMEOUT u32 │ NETMASK u32 │ [PE_NAME string]
 *           NETMASK: IPv4 a big-endian mask (ff ff ff 00), IPv6 a prefix length in host order (80 00 00 00 = 128).
 *   DEL_SERVICE, GET_SERVICE          SERVICE (nested) with the identity only
 *   NEW_DEST / SET_DEST / DEL_DEST     SERVICE (identity) then
 *     DEST (nested, 2)
 *       ├ ADDR_FAMILY u16 │ ADDR 16 bytes │ PORT be16                        (identity)
 *       └ FWD_METHOD u32 │ WEIGHT u32 │ TUN_TYPE u8 │ TUN_PORT be16 │ TUN_FLAGS u16 │ U_THRESH u32 │ L_THRESH u32
 *   GET_SERVICE dump (NLM_F_DUMP): no attributes; one reply per service, each SERVICE nested as above plus
 *     STATS (nested: CONNS u32, INPKTS u32, OUTPKTS u32, INBYTES u64, OUTBYTES u64, CPS u32 … OUTBPS u32),
 *     STATS64 (the same, every counter u64). FLAGS in replies include the kernel's internal HASHED bit (0x2).
 *   GET_DEST dump: SERVICE (identity); one reply per destination with DEST nested incl. ACTIVE_CONNS,
 *     INACT_CONNS, PERSIST_CONNS, STATS, STATS64.
 *   GET_INFO: replies VERSION u32 (0x010201 = 1.2.1), CONN_TAB_SIZE u32.
 *   GET_CONFIG / SET_CONFIG: TIMEOUT_TCP u32, TIMEOUT_TCP_FIN u32, TIMEOUT_UDP u32 (seconds, top level).
 *   NEW_DAEMON / DEL_DAEMON / GET_DAEMON: DAEMON (nested, 3): STATE u32 (1 master, 2 backup), MCAST_IFN string,
 *     SYNC_ID u32, [SYNC_MAXLEN u16, MCAST_GROUP be32 | MCAST_GROUP6 16 bytes, MCAST_PORT u16 (host order), MCAST_TTL u8].
 *   ZERO: optional SERVICE (identity); zeroes counters.
 *
 * FLUSH is deliberately absent: the engine never flushes a table it does not wholly own.
 */
import { familyOf, formatAddress, inetAddr, maskToPrefix4, parseAddress, prefixToMask4 } from './addr.ts';
import {
  attr,
  be16,
  be32,
  nested,
  parseAttrs,
  readBe16,
  readBe32,
  readStr,
  readU16,
  readU32,
  readU64,
  readU8,
  str,
  u16,
  u32,
  u8,
  zeroed,
  type Attr,
} from './attrs.ts';
import type {
  Destination,
  DestinationId,
  Family,
  ForwardMethod,
  Info,
  ObservedDestination,
  ObservedService,
  Protocol,
  Service,
  ServiceId,
  Stats,
  SyncDaemon,
  Timeouts,
} from './model.ts';

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

const CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;

const CMD_ATTR = { SERVICE: 1, DEST: 2, DAEMON: 3, TIMEOUT_TCP: 4, TIMEOUT_TCP_FIN: 5, TIMEOUT_UDP: 6 } as const;
const SVC = { AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9, STATS: 10, PE_NAME: 11, STATS64: 12 } as const;
const DEST = {
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  PERSIST_CONNS: 9,
  STATS: 10,
  ADDR_FAMILY: 11,
  STATS64: 12,
  TUN_TYPE: 13,
  TUN_PORT: 14,
  TUN_FLAGS: 15,
} as const;
const DAEMON = { STATE: 1, MCAST_IFN: 2, SYNC_ID: 3, SYNC_MAXLEN: 4, MCAST_GROUP: 5, MCAST_GROUP6: 6, MCAST_PORT: 7, MCAST_TTL: 8 } as const;
const STATS = { CONNS: 1, INPKTS: 2, OUTPKTS: 3, INBYTES: 4, OUTBYTES: 5, CPS: 6, INPPS: 7, OUTPPS: 8, INBPS: 9, OUTBPS: 10 } as const;
const INFO = { VERSION: 1, CONN_TAB_SIZE: 2 } as const;

const AF_INET = 2;
const AF_INET6 = 10;
const PROTO: Record<Protocol, number> = { tcp: 6, udp: 17, sctp: 132 };
const FWD: Record<ForwardMethod, number> = { masq: 0, local: 1, tunnel: 2, route: 3, bypass: 4 };
const IP_VS_CONN_F_FWD_MASK = 0x7;

const af = (f: Family) => (f === 6 ? AF_INET6 : AF_INET);
const familyFromAf = (n: number | undefined): Family => (n === AF_INET6 ? 6 : 4);

/** Everything the engine sends. Dumps are marked so the client sets NLM_F_DUMP. */
export type Command =
  | { cmd: 'new-service'; service: Service }
  | { cmd: 'set-service'; service: Service }
  | { cmd: 'del-service'; service: ServiceId }
  | { cmd: 'get-service'; service: ServiceId }
  | { cmd: 'get-services' }
  | { cmd: 'new-dest'; service: ServiceId; destination: Destination }
  | { cmd: 'set-dest'; service: ServiceId; destination: Destination }
  | { cmd: 'del-dest'; service: ServiceId; destination: DestinationId }
  | { cmd: 'get-dests'; service: ServiceId }
  | { cmd: 'get-info' }
  | { cmd: 'get-config' }
  | { cmd: 'set-config'; timeouts: Partial<Timeouts> }
  | { cmd: 'new-daemon'; daemon: SyncDaemon }
  | { cmd: 'del-daemon'; state: SyncDaemon['state'] }
  | { cmd: 'get-daemons' }
  | { cmd: 'zero'; service?: ServiceId };

export interface Encoded {
  cmd: number;
  attrs: Attr[];
  isDump: boolean;
}

function serviceIdAttrs(s: ServiceId): Attr[] {
  if (s.fwmark !== undefined) return [u16(SVC.AF, af(s.family)), u32(SVC.FWMARK, s.fwmark)];
  return [u16(SVC.AF, af(s.family)), u16(SVC.PROTOCOL, PROTO[s.protocol]), attr(SVC.ADDR, inetAddr(s.address)), be16(SVC.PORT, s.port)];
}

function netmaskAttr(s: Service): Attr {
  // IPv6 persistence granularity is a prefix length, in host order; IPv4 is a real mask, big-endian.
  return s.family === 6 ? u32(SVC.NETMASK, s.netmaskPrefix) : be32(SVC.NETMASK, prefixToMask4(s.netmaskPrefix));
}

function serviceAttrs(s: Service): Attr[] {
  const flags = zeroed(8);
  flags.writeUInt32LE(s.flags >>> 0, 0);
  flags.writeUInt32LE(0xffffffff, 4);
  const out = [...serviceIdAttrs(s), str(SVC.SCHED_NAME, s.scheduler), attr(SVC.FLAGS, flags), u32(SVC.TIMEOUT, s.timeout), netmaskAttr(s)];
  if (s.peName) out.push(str(SVC.PE_NAME, s.peName));
  return out;
}

function destIdAttrs(d: DestinationId, family: Family): Attr[] {
  return [u16(DEST.ADDR_FAMILY, af(family)), attr(DEST.ADDR, inetAddr(d.address)), be16(DEST.PORT, d.port)];
}

function destAttrs(d: Destination): Attr[] {
  return [
    ...destIdAttrs(d, d.family ?? familyOf(d.address)),
    u32(DEST.FWD_METHOD, FWD[d.forward]),
    u32(DEST.WEIGHT, d.weight),
    u8(DEST.TUN_TYPE, d.tunnelType ?? 0),
    be16(DEST.TUN_PORT, d.tunnelPort ?? 0),
    u16(DEST.TUN_FLAGS, d.tunnelFlags ?? 0),
    u32(DEST.U_THRESH, d.upperThreshold),
    u32(DEST.L_THRESH, d.lowerThreshold),
  ];
}

/** The length of nested(DEST, destAttrs(d)): its ten attributes have fixed sizes (the address padded to 16 bytes). */
export const DEST_NEST_LENGTH = 96;
/** The genl command of a destination change, for encodeMessages' direct writing. */
export const DEST_CHANGE_CMD = { 'new-dest': CMD.NEW_DEST, 'set-dest': CMD.SET_DEST } as const;

/** An attribute header at `off` for `payload` bytes; answers where the next attribute starts (padded to 4). */
function putHeader(out: Buffer, off: number, type: number, payload: number): number {
  out.writeUInt16LE(4 + payload, off);
  out.writeUInt16LE(type, off + 2);
  return off + ((4 + payload + 3) & ~3);
}

/**
 * nested(DEST, destAttrs(d)) written at `off` of `out`, which must be zeroed there: the same bytes (codec.test.ts
 * compares), without a buffer for each attribute. A whole table's apply encodes 4,000 of these, and allocating
 * eleven buffers each was most of encodeMessages' time. Answers `off` + DEST_NEST_LENGTH.
 */
export function writeDestNest(out: Buffer, off: number, d: Destination): number {
  putHeader(out, off, CMD_ATTR.DEST | 0x8000, DEST_NEST_LENGTH - 4); // 0x8000: NLA_F_NESTED, as nested() sets
  let o = off + 4;
  out.writeUInt16LE(af(d.family ?? familyOf(d.address)), o + 4);
  o = putHeader(out, o, DEST.ADDR_FAMILY, 2);
  parseAddress(d.address).copy(out, o + 4); // IPv4: 4 bytes, the other 12 stay 0 (inetAddr)
  o = putHeader(out, o, DEST.ADDR, 16);
  out.writeUInt16BE(d.port, o + 4);
  o = putHeader(out, o, DEST.PORT, 2);
  out.writeUInt32LE(FWD[d.forward] >>> 0, o + 4);
  o = putHeader(out, o, DEST.FWD_METHOD, 4);
  out.writeUInt32LE(d.weight >>> 0, o + 4);
  o = putHeader(out, o, DEST.WEIGHT, 4);
  out.writeUInt8((d.tunnelType ?? 0) & 0xff, o + 4);
  o = putHeader(out, o, DEST.TUN_TYPE, 1);
  out.writeUInt16BE(d.tunnelPort ?? 0, o + 4);
  o = putHeader(out, o, DEST.TUN_PORT, 2);
  out.writeUInt16LE(d.tunnelFlags ?? 0, o + 4);
  o = putHeader(out, o, DEST.TUN_FLAGS, 2);
  out.writeUInt32LE(d.upperThreshold >>> 0, o + 4);
  o = putHeader(out, o, DEST.U_THRESH, 4);
  out.writeUInt32LE(d.lowerThreshold >>> 0, o + 4);
  return putHeader(out, o, DEST.L_THRESH, 4);
}

function daemonAttrs(d: SyncDaemon): Attr[] {
  const out = [u32(DAEMON.STATE, d.state === 'master' ? 1 : 2), str(DAEMON.MCAST_IFN, d.interface), u32(DAEMON.SYNC_ID, d.syncId)];
  if (d.maxLength !== undefined) out.push(u16(DAEMON.SYNC_MAXLEN, d.maxLength));
  if (d.group !== undefined)
    out.push(familyOf(d.group) === 6 ? attr(DAEMON.MCAST_GROUP6, parseAddress(d.group)) : attr(DAEMON.MCAST_GROUP, parseAddress(d.group)));
  // The kernel keeps the sync port in host order despite nla_put_be16 (ip_vs_ctl.c); ipvsadm shows 8848 that way.
  if (d.port !== undefined) out.push(u16(DAEMON.MCAST_PORT, d.port));
  if (d.ttl !== undefined) out.push(u8(DAEMON.MCAST_TTL, d.ttl));
  return out;
}

/** A command's SERVICE attribute when it names a service by identity only (GET, DEL, and every destination command). */
export const serviceIdNest = (s: ServiceId): Attr => nested(CMD_ATTR.SERVICE, serviceIdAttrs(s));

/** `idNest`: how a service named by identity is encoded (serviceIdNest by default; encodeMessages reuses one per
 * service for its destinations' commands). */
export function encodeCommand(c: Command, idNest: (s: ServiceId) => Attr = serviceIdNest): Encoded {
  const svc = (children: Attr[]) => nested(CMD_ATTR.SERVICE, children);
  switch (c.cmd) {
    case 'new-service':
      return { cmd: CMD.NEW_SERVICE, attrs: [svc(serviceAttrs(c.service))], isDump: false };
    case 'set-service':
      return { cmd: CMD.SET_SERVICE, attrs: [svc(serviceAttrs(c.service))], isDump: false };
    case 'del-service':
      return { cmd: CMD.DEL_SERVICE, attrs: [idNest(c.service)], isDump: false };
    case 'get-service':
      return { cmd: CMD.GET_SERVICE, attrs: [idNest(c.service)], isDump: false };
    case 'get-services':
      return { cmd: CMD.GET_SERVICE, attrs: [], isDump: true };
    case 'new-dest':
    case 'set-dest':
      return {
        cmd: c.cmd === 'new-dest' ? CMD.NEW_DEST : CMD.SET_DEST,
        attrs: [idNest(c.service), nested(CMD_ATTR.DEST, destAttrs(c.destination))],
        isDump: false,
      };
    case 'del-dest':
      return {
        cmd: CMD.DEL_DEST,
        attrs: [idNest(c.service), nested(CMD_ATTR.DEST, destIdAttrs(c.destination, familyOf(c.destination.address)))],
        isDump: false,
      };
    case 'get-dests':
      return { cmd: CMD.GET_DEST, attrs: [idNest(c.service)], isDump: true };
    case 'get-info':
      return { cmd: CMD.GET_INFO, attrs: [], isDump: false };
    case 'get-config':
      return { cmd: CMD.GET_CONFIG, attrs: [], isDump: false };
    case 'set-config': {
      const t = c.timeouts;
      const attrs: Attr[] = [];
      if (t.tcp !== undefined) attrs.push(u32(CMD_ATTR.TIMEOUT_TCP, t.tcp));
      if (t.tcpFin !== undefined) attrs.push(u32(CMD_ATTR.TIMEOUT_TCP_FIN, t.tcpFin));
      if (t.udp !== undefined) attrs.push(u32(CMD_ATTR.TIMEOUT_UDP, t.udp));
      return { cmd: CMD.SET_CONFIG, attrs, isDump: false };
    }
    case 'new-daemon':
      return { cmd: CMD.NEW_DAEMON, attrs: [nested(CMD_ATTR.DAEMON, daemonAttrs(c.daemon))], isDump: false };
    case 'del-daemon':
      return { cmd: CMD.DEL_DAEMON, attrs: [nested(CMD_ATTR.DAEMON, [u32(DAEMON.STATE, c.state === 'master' ? 1 : 2)])], isDump: false };
    case 'get-daemons':
      return { cmd: CMD.GET_DAEMON, attrs: [], isDump: true };
    case 'zero':
      return { cmd: CMD.ZERO, attrs: c.service ? [idNest(c.service)] : [], isDump: false };
  }
}

// ───────────────────────────── decoding ─────────────────────────────

function decodeStats(attrs: Map<number, Buffer>, key32: number, key64: number): Stats | undefined {
  const s64 = attrs.get(key64);
  const s32 = attrs.get(key32);
  const raw = s64 ?? s32;
  if (!raw) return undefined;
  const a = parseAttrs(raw);
  const n = (k: number) => (s64 ? readU64(a.get(k)) : k === STATS.INBYTES || k === STATS.OUTBYTES ? readU64(a.get(k)) : readU32(a.get(k))) ?? 0;
  return {
    connections: n(STATS.CONNS),
    packetsIn: n(STATS.INPKTS),
    packetsOut: n(STATS.OUTPKTS),
    bytesIn: n(STATS.INBYTES),
    bytesOut: n(STATS.OUTBYTES),
    cps: n(STATS.CPS),
    ppsIn: n(STATS.INPPS),
    ppsOut: n(STATS.OUTPPS),
    bpsIn: n(STATS.INBPS),
    bpsOut: n(STATS.OUTBPS),
  };
}

const PROTO_NAME = new Map<number, Protocol>(Object.entries(PROTO).map(([k, v]) => [v, k as Protocol]));
const FWD_NAME = new Map<number, ForwardMethod>(Object.entries(FWD).map(([k, v]) => [v, k as ForwardMethod]));

/** A SERVICE nested attribute's contents → service (identity, settings, stats). */
function decodeServiceNest(nest: Buffer): ObservedService {
  const a = parseAttrs(nest);
  const family = familyFromAf(readU16(a.get(SVC.AF)));
  const fwmark = readU32(a.get(SVC.FWMARK)) ?? 0;
  const flagsRaw = a.get(SVC.FLAGS);
  const netmaskRaw = a.get(SVC.NETMASK);
  const netmaskPrefix = netmaskRaw ? (family === 6 ? readU32(netmaskRaw)! : maskToPrefix4(readBe32(netmaskRaw)!)) : family === 6 ? 128 : 32;
  const settings = {
    scheduler: readStr(a.get(SVC.SCHED_NAME)) ?? '',
    flags: flagsRaw ? flagsRaw.readUInt32LE(0) : 0,
    timeout: readU32(a.get(SVC.TIMEOUT)) ?? 0,
    netmaskPrefix,
    peName: readStr(a.get(SVC.PE_NAME)) ?? '',
    stats: decodeStats(a, SVC.STATS, SVC.STATS64),
    destinations: [],
  };
  if (fwmark !== 0) return { family, fwmark, ...settings };
  const proto = readU16(a.get(SVC.PROTOCOL)) ?? 0;
  return {
    family,
    protocol: PROTO_NAME.get(proto) ?? ('tcp' as Protocol),
    address: formatAddress(a.get(SVC.ADDR) ?? Buffer.alloc(16), family),
    port: readBe16(a.get(SVC.PORT)) ?? 0,
    ...settings,
  };
}

/** A DEST nested attribute's contents → destination. `serviceFamily` stands in when ADDR_FAMILY is absent (kernels < 5.3). */
function decodeDestNest(nest: Buffer, serviceFamily: Family): ObservedDestination {
  const a = parseAttrs(nest);
  const familyAttr = readU16(a.get(DEST.ADDR_FAMILY));
  const family = familyAttr !== undefined ? familyFromAf(familyAttr) : serviceFamily;
  const fwd = (readU32(a.get(DEST.FWD_METHOD)) ?? 0) & IP_VS_CONN_F_FWD_MASK;
  return {
    address: formatAddress(a.get(DEST.ADDR) ?? Buffer.alloc(16), family),
    port: readBe16(a.get(DEST.PORT)) ?? 0,
    family,
    forward: FWD_NAME.get(fwd) ?? 'masq',
    weight: readU32(a.get(DEST.WEIGHT)) ?? 0,
    upperThreshold: readU32(a.get(DEST.U_THRESH)) ?? 0,
    lowerThreshold: readU32(a.get(DEST.L_THRESH)) ?? 0,
    tunnelType: readU8(a.get(DEST.TUN_TYPE)) ?? 0,
    tunnelPort: readBe16(a.get(DEST.TUN_PORT)) ?? 0,
    tunnelFlags: readU16(a.get(DEST.TUN_FLAGS)) ?? 0,
    activeConnections: readU32(a.get(DEST.ACTIVE_CONNS)) ?? 0,
    inactiveConnections: readU32(a.get(DEST.INACT_CONNS)) ?? 0,
    persistentConnections: readU32(a.get(DEST.PERSIST_CONNS)) ?? 0,
    stats: decodeStats(a, DEST.STATS, DEST.STATS64),
  };
}

/** Top-level attributes of a reply (or request) → the nested service, if any. */
export function decodeService(payload: Buffer): ObservedService | undefined {
  const nest = parseAttrs(payload).get(CMD_ATTR.SERVICE);
  return nest ? decodeServiceNest(nest) : undefined;
}

export function decodeDestination(payload: Buffer, serviceFamily: Family): ObservedDestination | undefined {
  const nest = parseAttrs(payload).get(CMD_ATTR.DEST);
  return nest ? decodeDestNest(nest, serviceFamily) : undefined;
}

export function decodeInfo(payload: Buffer): Info {
  const a = parseAttrs(payload);
  const v = readU32(a.get(INFO.VERSION)) ?? 0;
  return { version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`, connectionTableSize: readU32(a.get(INFO.CONN_TAB_SIZE)) ?? 0 };
}

export function decodeTimeouts(payload: Buffer): Timeouts {
  const a = parseAttrs(payload);
  return {
    tcp: readU32(a.get(CMD_ATTR.TIMEOUT_TCP)) ?? 0,
    tcpFin: readU32(a.get(CMD_ATTR.TIMEOUT_TCP_FIN)) ?? 0,
    udp: readU32(a.get(CMD_ATTR.TIMEOUT_UDP)) ?? 0,
  };
}

export function decodeDaemon(payload: Buffer): SyncDaemon | undefined {
  const nest = parseAttrs(payload).get(CMD_ATTR.DAEMON);
  if (!nest) return undefined;
  const a = parseAttrs(nest);
  const g4 = a.get(DAEMON.MCAST_GROUP);
  const g6 = a.get(DAEMON.MCAST_GROUP6);
  const group = g6 && !g6.equals(Buffer.alloc(16)) ? formatAddress(g6, 6) : g4 && readBe32(g4) ? formatAddress(g4, 4) : undefined;
  return {
    state: readU32(a.get(DAEMON.STATE)) === 1 ? 'master' : 'backup',
    interface: readStr(a.get(DAEMON.MCAST_IFN)) ?? '',
    syncId: readU32(a.get(DAEMON.SYNC_ID)) ?? 0,
    maxLength: readU16(a.get(DAEMON.SYNC_MAXLEN)),
    group,
    port: readU16(a.get(DAEMON.MCAST_PORT)),
    ttl: readU8(a.get(DAEMON.MCAST_TTL)),
  };
}

/** Decodes any request we can encode, for tests and for reading ipvsadm's bytes. */
export function decodeCommand(cmd: number, payload: Buffer, isDump = false): Command {
  const top = parseAttrs(payload);
  const svcNest = top.get(CMD_ATTR.SERVICE);
  const destNest = top.get(CMD_ATTR.DEST);
  const svc = svcNest ? decodeServiceNest(svcNest) : undefined;
  const id = (s: ObservedService): ServiceId =>
    s.fwmark !== undefined ? { family: s.family, fwmark: s.fwmark } : { family: s.family, protocol: s.protocol, address: s.address, port: s.port };
  const full = (s: ObservedService): Service =>
    ({ ...id(s), scheduler: s.scheduler, flags: s.flags, timeout: s.timeout, netmaskPrefix: s.netmaskPrefix, peName: s.peName }) as Service;
  const dest = (): Destination => {
    const d = decodeDestNest(destNest!, svc!.family);
    const out: Destination = {
      address: d.address,
      port: d.port,
      forward: d.forward,
      weight: d.weight,
      upperThreshold: d.upperThreshold,
      lowerThreshold: d.lowerThreshold,
    };
    if (d.family !== familyOf(d.address)) out.family = d.family;
    if (d.forward === 'tunnel') Object.assign(out, { tunnelType: d.tunnelType, tunnelPort: d.tunnelPort, tunnelFlags: d.tunnelFlags });
    return out;
  };
  switch (cmd) {
    case CMD.NEW_SERVICE:
      return { cmd: 'new-service', service: full(svc!) };
    case CMD.SET_SERVICE:
      return { cmd: 'set-service', service: full(svc!) };
    case CMD.DEL_SERVICE:
      return { cmd: 'del-service', service: id(svc!) };
    case CMD.GET_SERVICE:
      return isDump ? { cmd: 'get-services' } : { cmd: 'get-service', service: id(svc!) };
    case CMD.NEW_DEST:
      return { cmd: 'new-dest', service: id(svc!), destination: dest() };
    case CMD.SET_DEST:
      return { cmd: 'set-dest', service: id(svc!), destination: dest() };
    case CMD.DEL_DEST: {
      const d = decodeDestNest(destNest!, svc!.family);
      return { cmd: 'del-dest', service: id(svc!), destination: { address: d.address, port: d.port } };
    }
    case CMD.GET_DEST:
      return { cmd: 'get-dests', service: id(svc!) };
    case CMD.GET_INFO:
      return { cmd: 'get-info' };
    case CMD.GET_CONFIG:
      return { cmd: 'get-config' };
    case CMD.SET_CONFIG: {
      const t: Partial<Timeouts> = {};
      const tcp = readU32(top.get(CMD_ATTR.TIMEOUT_TCP));
      if (tcp !== undefined) t.tcp = tcp;
      const fin = readU32(top.get(CMD_ATTR.TIMEOUT_TCP_FIN));
      if (fin !== undefined) t.tcpFin = fin;
      const udp = readU32(top.get(CMD_ATTR.TIMEOUT_UDP));
      if (udp !== undefined) t.udp = udp;
      return { cmd: 'set-config', timeouts: t };
    }
    case CMD.NEW_DAEMON: {
      const d = decodeDaemon(payload)!;
      const out: SyncDaemon = { state: d.state, interface: d.interface, syncId: d.syncId };
      for (const k of ['maxLength', 'group', 'port', 'ttl'] as const) if (d[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = d[k];
      return { cmd: 'new-daemon', daemon: out };
    }
    case CMD.DEL_DAEMON:
      return { cmd: 'del-daemon', state: decodeDaemon(payload)!.state };
    case CMD.GET_DAEMON:
      return { cmd: 'get-daemons' };
    case CMD.ZERO:
      return svc ? { cmd: 'zero', service: id(svc) } : { cmd: 'zero' };
    default:
      throw new Error(`unknown IPVS command ${cmd}`);
  }
}
