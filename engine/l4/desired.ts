/**
 * Fulcrum's configuration → the IPVS table it implies (pure). This is where VirtualService/RealServer become the
 * kernel's Service/Destination, and where the multi-port design lives:
 *
 *  - No firewall mark: one IPVS service per (protocol, port). `protocol: both` gives a TCP and a UDP service per
 *    port; a range "8000-8010" gives one service per port. Persistence is per IPVS service, so a client that opens
 *    :80 and :443 may land on different real servers. At most MAX_PORT_SERVICES services per virtual service; beyond
 *    that (or to make persistence span ports) give the service a firewall mark.
 *  - Firewall mark: one IPVS firewall-mark service covers every port and protocol; persistence then spans all ports
 *    (the appliance's "multi-port persistent" case). When the virtual service lists ports, the engine marks matching
 *    packets itself (nftables, table inet fulcrum_l4, prerouting at mangle priority); with no ports, the operator's own
 *    firewall marks them. Real-server ports are then 0 ("keep the client's port") unless set.
 *
 * Modes: dr → route (gatewaying), nat and snat → masq, tun → tunnel (ipip). snat adds, per real server, a source NAT
 * rule (nftables masquerade for connections whose original destination is the VIP) and needs the conntrack sysctl.
 * Server state comes from the daemon's decisions (engine/server-state.ts): remove → no destination; quiesce → weight
 * 0; serve → configured weight. Backup servers stay at weight 0 while any primary serves. A fallback server joins
 * (weight 1) only while no server takes new connections.
 */
import { serviceFamily, type Config, type RealServer, type VirtualService } from '../config/index.ts';
import { expandPorts } from '../config/ports.ts';
import { serverKey } from '../dataplane.ts';
import { decideServer, type ServerDecision } from '../server-state.ts';
import { canonicalAddress } from '../config/address.ts';
import {
  SVC_F_ONEPACKET,
  SVC_F_PERSISTENT,
  SVC_F_SCHED1,
  SVC_F_SCHED2,
  serviceKey,
  type Destination,
  type ForwardMethod,
  type Protocol,
  type Service,
} from './model.ts';

const MAX_PORT_SERVICES = 256;

export interface DesiredService {
  service: Service;
  destinations: Destination[];
  /** Virtual service name and, per destination key, the real server name (for results and counters). */
  virtualService: string;
  realServers: Map<string, string>;
  /** serviceKey(service), computed once here (every apply looks it up for every service several times). */
  key?: string;
}

export const desiredKey = (d: { service: Service; key?: string }): string => d.key ?? serviceKey(d.service);

export interface VipAddress {
  address: string;
  prefix: number;
  interface: string;
  virtualService: string;
}

export interface SnatRule {
  virtualService: string;
  family: 4 | 6;
  vip: string;
  realServer: string;
}

export interface MarkRule {
  virtualService: string;
  family: 4 | 6;
  vip: string;
  protocols: Protocol[];
  ports: (number | string)[];
  mark: number;
}

export interface Refusal {
  virtualService: string;
  code: 'IPVS_PORT_RANGE';
  params: Record<string, unknown>;
}

export interface DesiredL4 {
  services: DesiredService[];
  vips: VipAddress[];
  snat: SnatRule[];
  marks: MarkRule[];
  /** sysctl path (under /proc/sys) → value the kernel must have. */
  sysctls: Map<string, string>;
  refused: Refusal[];
  /** Layer 4 virtual services that are disabled (reported as removed). */
  disabled: string[];
}

const FORWARD: Record<string, ForwardMethod> = { dr: 'route', nat: 'masq', snat: 'masq', tun: 'tunnel' };

/**
 * The fields of a virtual service and of its real servers that its part of the IPVS table depends on: the only ones
 * the memo copies and compares, and the only ones partOf() is given (its parameter's type says so, and at run time it
 * receives the copy, which holds nothing else). A field the table comes to depend on is added to these types; the
 * compiler then asks for it in l4Input(), and desired.test.ts fails until sameL4Input() compares it.
 */
type L4Server = Pick<RealServer, 'name' | 'address' | 'port' | 'weight' | 'minConnections' | 'maxConnections' | 'state' | 'isBackup'>;
export type L4Input = Pick<
  VirtualService,
  | 'name'
  | 'layer'
  | 'isEnabled'
  | 'mode'
  | 'protocol'
  | 'address'
  | 'ports'
  | 'firewallMark'
  | 'interface'
  | 'scheduler'
  | 'persistence'
  | 'fallback'
  | 'layer4'
> & { realServers: L4Server[] };

/** A private copy of what the table depends on (the caller may change its configuration objects in place). */
export function l4Input(vs: VirtualService): L4Input {
  return {
    name: vs.name,
    layer: vs.layer,
    isEnabled: vs.isEnabled,
    mode: vs.mode,
    protocol: vs.protocol,
    address: vs.address,
    ports: copyData(vs.ports),
    firewallMark: vs.firewallMark,
    interface: vs.interface,
    scheduler: vs.scheduler,
    persistence: copyData(vs.persistence),
    fallback: copyData(vs.fallback),
    layer4: copyData(vs.layer4),
    realServers: vs.realServers.map((rs) => ({
      name: rs.name,
      address: rs.address,
      port: rs.port,
      weight: rs.weight,
      minConnections: rs.minConnections,
      maxConnections: rs.maxConnections,
      state: rs.state,
      isBackup: rs.isBackup,
    })),
  };
}

/** Whether `vs` still asks for what `was` was copied from. Named fields, not a loop over keys: it runs over every
 * virtual service on every apply, and a keyed or for-in walk cost ~2 ms per 1,000 services where this costs ~0.1. */
export function sameL4Input(was: L4Input, vs: VirtualService): boolean {
  if (
    was.name !== vs.name ||
    was.layer !== vs.layer ||
    was.isEnabled !== vs.isEnabled ||
    was.mode !== vs.mode ||
    was.protocol !== vs.protocol ||
    was.address !== vs.address ||
    was.firewallMark !== vs.firewallMark ||
    was.interface !== vs.interface ||
    was.scheduler !== vs.scheduler ||
    !sameData(was.ports, vs.ports) ||
    !sameData(was.persistence, vs.persistence) ||
    !sameData(was.fallback, vs.fallback) ||
    !sameData(was.layer4, vs.layer4)
  ) {
    return false;
  }
  const a = was.realServers;
  const b = vs.realServers;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (
      x.name !== y.name ||
      x.address !== y.address ||
      x.port !== y.port ||
      x.weight !== y.weight ||
      x.minConnections !== y.minConnections ||
      x.maxConnections !== y.maxConnections ||
      x.state !== y.state ||
      x.isBackup !== y.isBackup
    ) {
      return false;
    }
  }
  return true;
}

/**
 * What one virtual service contributes to the table. desiredFromConfig() assembles these in config order; a memo
 * (DesiredMemo) reuses a service's part while its configuration and its servers' decisions are unchanged.
 */
interface DesiredPart {
  services: DesiredService[];
  vips: VipAddress[];
  snat: SnatRule[];
  marks: MarkRule[];
  sysctls: [string, string][];
  refused: Refusal[];
  isDisabled: boolean;
}

/**
 * Remembers, per virtual service name, the configuration and decisions it was last translated from and the result.
 * Why: the daemon re-applies the whole configuration on every change, and translating 1,000 unchanged services
 * (allocating ~10,000 objects, then collecting them) was most of a one-weight apply's time. Only configuration is
 * memoised here, never kernel state: the reconciler still reads and confirms the kernel as before.
 */
export class DesiredMemo {
  entries = new Map<string, MemoEntry>();
  generation = 0;
}
/** `vs`: the copy the part was made from. `keys`: serverKey of each real server (built once, not per apply).
 * `decided`: per real server, the [disposition, weight] of the daemon's decision, or [] when it had none (the decision
 * then follows from the server's state and weight, which `vs` carries). */
interface MemoEntry {
  vs: L4Input;
  /** The configuration object itself when it was deep-frozen (the engine's memoised parse shares and freezes an
   * unchanged service's object): the same frozen object again asks for the same, without comparing fields. */
  frozen?: VirtualService;
  keys: string[];
  decided: (string | number)[][];
  part: DesiredPart;
  generation: number;
}

export function desiredFromConfig(config: Config, decisions: ReadonlyMap<string, ServerDecision>, memo?: DesiredMemo): DesiredL4 {
  const out: DesiredL4 = { services: [], vips: [], snat: [], marks: [], sysctls: new Map(), refused: [], disabled: [] };
  const generation = memo ? ++memo.generation : 0;
  // Indexed loops, here and below: this runs over every virtual service on every apply, and a for-of walk allocates
  // an iterator result per step until V8 optimises the loop (≈0.6 MB per 1,000-service apply, measured with the
  // sampling heap profiler), garbage whose collection then lands in some later apply.
  const list = config.virtualServices as VirtualService[];
  /** Memo entries used by this apply, each counted once: when that is all of them, none is left to forget. */
  let used = 0;
  for (let v = 0; v < list.length; v++) {
    const vs = list[v];
    if (vs.layer !== 4) continue;
    let entry = memo?.entries.get(vs.name);
    if (entry?.generation !== generation) used++; // a name seen twice is counted once
    // Configuration first: equal names make the entry's server keys valid for the decisions check.
    if (!entry || (entry.frozen !== vs && !sameL4Input(entry.vs, vs)) || !sameDecisions(entry, decisions)) {
      const input = l4Input(vs);
      const keys = input.realServers.map((rs) => serverKey(vs.name, rs.name));
      const given = keys.map((k) => decisions.get(k));
      const decided = input.realServers.map((rs, i) => given[i] ?? decideServer(rs.state, 'unknown', rs.weight));
      entry = { vs: input, keys, decided: given.map((d) => (d ? [d.disposition, d.weight] : [])), part: partOf(input, decided), generation };
      if (isDeepFrozen(vs)) entry.frozen = vs;
      memo?.entries.set(vs.name, entry);
    }
    entry.generation = generation;
    const part = entry.part;
    if (part.isDisabled) out.disabled.push(vs.name);
    append(out.services, part.services);
    append(out.vips, part.vips);
    append(out.snat, part.snat);
    append(out.marks, part.marks);
    for (let i = 0; i < part.sysctls.length; i++) out.sysctls.set(part.sysctls[i][0], part.sysctls[i][1]);
    append(out.refused, part.refused);
  }
  // Forget virtual services no longer configured.
  if (memo && memo.entries.size > used) for (const [name, e] of memo.entries) if (e.generation !== generation) memo.entries.delete(name);
  // Two virtual services never map to one IPVS service (the schema refuses overlapping VIP:port), but dedupe rules.
  out.snat = dedupe(out.snat, (r) => `${r.family}|${r.vip}|${r.realServer}`);
  return out;
}

/** One enabled or disabled layer 4 virtual service → its part of the table. `decisions[i]` is realServers[i]'s. */
function partOf(vs: L4Input, decisions: readonly ServerDecision[]): DesiredPart {
  const out: DesiredPart = { services: [], vips: [], snat: [], marks: [], sysctls: [], refused: [], isDisabled: false };
  if (!vs.isEnabled) {
    out.isDisabled = true;
    return out;
  }
  // A firewall-mark service may have no address (the schema allows no ports, interface or SNAT then).
  const family = serviceFamily(vs);
  const vip = vs.address === '' ? '' : canonicalAddress(vs.address);
  const protocols: Protocol[] = vs.protocol === 'both' ? ['tcp', 'udp'] : [vs.protocol];
  const persistence = vs.persistence.type === 'source-ip' ? vs.persistence : undefined;
  const baseSettings = {
    scheduler: vs.scheduler,
    timeout: persistence ? persistence.timeoutSeconds : 0,
    netmaskPrefix: persistence?.netmaskPrefix ?? (family === 6 ? 128 : 32),
    peName: '',
  };
  // The schema allows the scheduler flags with sh and mh only; other schedulers would ignore them anyway.
  const schedFlags = (vs.layer4?.schedulerFallback ? SVC_F_SCHED1 : 0) | (vs.layer4?.schedulerPort ? SVC_F_SCHED2 : 0);
  const flagsFor = (p: Protocol | 'fwmark') =>
    (persistence ? SVC_F_PERSISTENT : 0) |
    schedFlags |
    (vs.layer4?.onePacketScheduling && (p === 'udp' || (p === 'fwmark' && protocols.includes('udp'))) ? SVC_F_ONEPACKET : 0);

  // Real servers: decided state, then the backup rule.
  const decided = vs.realServers.map((rs, i) => ({ rs, d: decisions[i] }));
  const primaryServes = decided.some(({ rs, d }) => !rs.isBackup && d.disposition === 'serve' && d.weight > 0);
  const destsFor = (servicePort: number): { dests: Destination[]; names: Map<string, string> } => {
    const dests: Destination[] = [];
    const names = new Map<string, string>();
    for (const { rs, d } of decided) {
      if (d.disposition === 'remove') continue;
      const address = canonicalAddress(rs.address);
      const port = rs.port ?? servicePort;
      const dest: Destination = {
        address,
        port,
        forward: FORWARD[vs.mode],
        weight: rs.isBackup && primaryServes ? 0 : d.weight,
        upperThreshold: rs.maxConnections,
        lowerThreshold: rs.minConnections,
      };
      if (dest.forward === 'tunnel') Object.assign(dest, { tunnelType: 0, tunnelPort: 0, tunnelFlags: 0 });
      dests.push(dest);
      names.set(`${address}|${port}`, rs.name);
    }
    // Fallback ("sorry") server, as keepalived's sorry_server: in the table only while no real server takes new
    // connections, so clients get an answer instead of a reset.
    const fb = vs.fallback?.type === 'server' ? vs.fallback : undefined;
    if (fb && !dests.some((x) => x.weight > 0)) {
      const address = canonicalAddress(fb.address);
      const port = fb.port ?? servicePort;
      if (!dests.some((x) => x.address === address && x.port === port)) {
        const dest: Destination = { address, port, forward: FORWARD[vs.mode], weight: 1, upperThreshold: 0, lowerThreshold: 0 };
        if (dest.forward === 'tunnel') Object.assign(dest, { tunnelType: 0, tunnelPort: 0, tunnelFlags: 0 });
        dests.push(dest);
        names.set(`${address}|${port}`, '(fallback)');
      }
    }
    return { dests, names };
  };

  if (vs.firewallMark !== undefined) {
    const { dests, names } = destsFor(0);
    const service: Service = { family, fwmark: vs.firewallMark, flags: flagsFor('fwmark'), ...baseSettings };
    out.services.push({ service, destinations: dests, virtualService: vs.name, realServers: names, key: serviceKey(service) });
    if (vs.ports.length > 0 && vip) out.marks.push({ virtualService: vs.name, family, vip, protocols, ports: vs.ports, mark: vs.firewallMark });
  } else {
    const ports = expandPorts(vs.ports);
    if (ports.length * protocols.length > MAX_PORT_SERVICES) {
      out.refused.push({
        virtualService: vs.name,
        code: 'IPVS_PORT_RANGE',
        params: { service: vs.name, count: ports.length * protocols.length, max: MAX_PORT_SERVICES },
      });
      return out;
    }
    for (const protocol of protocols) {
      for (const port of ports) {
        const { dests, names } = destsFor(port);
        const service: Service = { family, protocol, address: vip, port, flags: flagsFor(protocol), ...baseSettings };
        out.services.push({ service, destinations: dests, virtualService: vs.name, realServers: names, key: serviceKey(service) });
      }
    }
  }

  if (vs.interface && vip) out.vips.push({ address: vip, prefix: family === 6 ? 128 : 32, interface: vs.interface, virtualService: vs.name });
  if (vs.mode === 'nat' || vs.mode === 'snat') out.sysctls.push([family === 6 ? 'net/ipv6/conf/all/forwarding' : 'net/ipv4/ip_forward', '1']);
  // DR and TUN: the director sees only the client's half of a connection, so one it last saw closing stays in the
  // kernel's table as FIN_WAIT for two minutes. Under the default conn_reuse_mode (1), a new connection from the same
  // client address and port (clients behind a NAT gateway reuse ports often) goes to that entry's server: a drained
  // or health-quiesced one, and nowhere when it was halted (its SYNs are dropped until the entry expires). Bit 2
  // schedules such a SYN as a new connection; the kernel documents it for Direct Routing ("the last state seen by
  // load balancer"). Not a requirement: a kernel without the sysctl still serves (a failure is only logged).
  if (vs.mode === 'dr' || vs.mode === 'tun') out.sysctls.push(['net/ipv4/vs/conn_reuse_mode', '3']);
  if (vs.mode === 'snat') {
    // IPVS must keep conntrack entries for its connections, or nf_nat never sees them to rewrite the source.
    out.sysctls.push(['net/ipv4/vs/conntrack', '1']);
    for (const { rs, d } of decided) {
      if (d.disposition === 'remove') continue;
      out.snat.push({ virtualService: vs.name, family, vip, realServer: canonicalAddress(rs.address) });
    }
  }
  return out;
}

/** Whether the daemon's decisions for the servers are still those a memo entry was made with (only disposition
 * and weight matter). Servers without a decision are decided from their configuration, which sameL4Input compares. */
function sameDecisions(entry: MemoEntry, decisions: ReadonlyMap<string, ServerDecision>): boolean {
  for (let i = 0; i < entry.keys.length; i++) {
    const d = decisions.get(entry.keys[i]);
    const was = entry.decided[i];
    if (d ? was.length === 0 || d.disposition !== was[0] || d.weight !== was[1] : was.length !== 0) return false;
  }
  return true;
}

function append<T>(to: T[], xs: readonly T[]): void {
  for (let i = 0; i < xs.length; i++) to.push(xs[i]);
}

/** Whether `x` and everything in it is frozen (deepFreeze in config/memo-parse.ts freezes a parsed service whole).
 * Checked once per new memo entry, not per apply. */
function isDeepFrozen(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return true;
  if (!Object.isFrozen(x)) return false;
  for (const v of Object.values(x)) if (!isDeepFrozen(v)) return false;
  return true;
}

/** Deep copy of parsed configuration (JSON data by schema: plain objects, arrays, primitives). */
function copyData<T>(x: T): T {
  if (typeof x !== 'object' || x === null) return x;
  if (Array.isArray(x)) return x.map(copyData) as T;
  const out: Record<string, unknown> = {};
  for (const k in x) out[k] = copyData((x as Record<string, unknown>)[k]);
  return out as T;
}

/** Deep equality of parsed configuration (plain objects, arrays, primitives; no inherited enumerable keys). Allocates
 * nothing. */
function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const isArray = Array.isArray(a);
  if (isArray !== Array.isArray(b)) return false;
  if (isArray) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!sameData(x[i], y[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    if (!sameData(x[k], y[k]) || (y[k] === undefined && !(k in y))) return false;
    n++;
  }
  for (const _k in y) n--;
  return n === 0;
}

function dedupe<T>(xs: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)));
}
