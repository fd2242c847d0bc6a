/**
 * The IPVS model, platform-neutral: what the kernel holds, in the kernel's own words (Service, Destination).
 * Nothing here knows about netlink (see codec.ts) or about Fulcrum's VirtualService (see desired.ts).
 *
 * Identity is kept apart from settings, as the kernel keeps it:
 *   a Service is identified by (family, protocol, address, port) or, for firewall-mark services, by (family, fwmark);
 *   a Destination is identified inside its Service by (address, port).
 * Everything else (scheduler, flags, timeout, weight …) is a setting that SET_SERVICE / SET_DEST can change in place.
 */

export type Family = 4 | 6;
export type Protocol = 'tcp' | 'udp' | 'sctp';

/** How IPVS forwards to a destination (IP_VS_CONN_F_FWD_MASK). Fulcrum's modes: nat/snat → masq, dr → gate, tun → ipip. */
export type ForwardMethod = 'masq' | 'local' | 'tunnel' | 'route' | 'bypass';

export type ServiceId =
  | { family: Family; protocol: Protocol; address: string; port: number; fwmark?: undefined }
  | { family: Family; fwmark: number; protocol?: undefined; address?: undefined; port?: undefined };

export interface ServiceSettings {
  scheduler: string;
  /** IP_VS_SVC_F_* flags without the kernel-internal HASHED bit: persistent 0x1, one-packet 0x4, sched flags 0x8… */
  flags: number;
  /** Persistence timeout in seconds (0 when not persistent). */
  timeout: number;
  /**
   * Persistence granularity. IPv4: the mask as a prefix length 0–32 (sent as a big-endian mask);
   * IPv6: a prefix length 0–128 (the kernel reads it as a plain number). Kept as a prefix length here.
   */
  netmaskPrefix: number;
  /** Persistence engine name ("sip"), empty when none. */
  peName: string;
}

export type Service = ServiceId & ServiceSettings;

export interface DestinationId {
  address: string;
  port: number;
}

export interface DestinationSettings {
  forward: ForwardMethod;
  weight: number;
  /** Upper connection threshold: above it the destination takes no new connections (0 = no limit). */
  upperThreshold: number;
  /** Lower threshold: below it an overloaded destination takes new connections again. */
  lowerThreshold: number;
  /** Destination address family; differs from the service's only for tunnel mode (kernel ≥ 5.3 allows it). */
  family?: Family;
  tunnelType?: number;
  tunnelPort?: number;
  tunnelFlags?: number;
}

export type Destination = DestinationId & DestinationSettings;

export interface Stats {
  connections: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  cps: number;
  ppsIn: number;
  ppsOut: number;
  bpsIn: number;
  bpsOut: number;
}

export interface ObservedDestination extends Destination {
  /** Read from /proc/net/ip_vs: thresholds and tunnel settings unknown (not compared). */
  isSummary?: boolean;
  activeConnections: number;
  inactiveConnections: number;
  persistentConnections: number;
  stats?: Stats;
}

export type ObservedService = Service & {
  stats?: Stats;
  destinations: ObservedDestination[];
};

export interface Info {
  version: string;
  connectionTableSize: number;
}

export interface Timeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
}

export interface SyncDaemon {
  state: 'master' | 'backup';
  interface: string;
  syncId: number;
  maxLength?: number;
  group?: string;
  port?: number;
  ttl?: number;
}

export const SVC_F_PERSISTENT = 0x1;
const SVC_F_HASHED = 0x2;
export const SVC_F_ONEPACKET = 0x4;
/** Scheduler flags (IP_VS_SVC_F_SCHED1/2): for sh and mh, 1 = fallback (skip a destination that is overloaded or at
 * weight 0 and hash on), 2 = port (hash the source port too). ipvsadm's `-b sh-fallback,sh-port`. */
export const SVC_F_SCHED1 = 0x8;
export const SVC_F_SCHED2 = 0x10;

/** The scheduler flags of a service as ipvsadm names them ("sh-fallback", "mh-port"); none for other schedulers. */
export function schedulerFlagWords(scheduler: string, flags: number): string[] {
  if (scheduler !== 'sh' && scheduler !== 'mh') return [];
  return [flags & SVC_F_SCHED1 ? `${scheduler}-fallback` : '', flags & SVC_F_SCHED2 ? `${scheduler}-port` : ''].filter(Boolean);
}

/** Stable text key of a service identity: "tcp|4|10.0.0.1|80" or "fwm|4|7". Addresses must be canonical. */
export function serviceKey(s: ServiceId): string {
  return s.fwmark !== undefined ? `fwm|${s.family}|${s.fwmark}` : `${s.protocol}|${s.family}|${s.address}|${s.port}`;
}

export function destinationKey(d: DestinationId): string {
  return `${d.address}|${d.port}`;
}

/** ipvsadm's way of writing a service: "TCP 10.0.0.1:80", "UDP [2001:db8::1]:53", "FWM 7 IPv6". */
export function serviceText(s: ServiceId): string {
  if (s.fwmark !== undefined) return `FWM ${s.fwmark}${s.family === 6 ? ' IPv6' : ''}`;
  return `${s.protocol.toUpperCase()} ${endpoint(s.address, s.port)}`;
}

export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Same identity ⇒ same service; used to compare desired with observed. */
export function sameServiceSettings(a: ServiceSettings, b: ServiceSettings): boolean {
  return (
    a.scheduler === b.scheduler &&
    (a.flags & ~SVC_F_HASHED) === (b.flags & ~SVC_F_HASHED) &&
    a.timeout === b.timeout &&
    a.netmaskPrefix === b.netmaskPrefix &&
    a.peName === b.peName
  );
}

/** `b` may be a summary read (procfs.ts): then only forwarding and weight can be compared. */
export function sameDestinationSettings(a: DestinationSettings, b: DestinationSettings & { isSummary?: boolean }): boolean {
  if (b.isSummary) return a.forward === b.forward && a.weight === b.weight;
  return (
    a.forward === b.forward &&
    a.weight === b.weight &&
    a.upperThreshold === b.upperThreshold &&
    a.lowerThreshold === b.lowerThreshold &&
    (a.forward !== 'tunnel' ||
      ((a.tunnelType ?? 0) === (b.tunnelType ?? 0) && (a.tunnelPort ?? 0) === (b.tunnelPort ?? 0) && (a.tunnelFlags ?? 0) === (b.tunnelFlags ?? 0)))
  );
}
