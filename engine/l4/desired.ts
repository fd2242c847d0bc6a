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
import type { Config, VirtualService } from '../config/index.ts';
import { expandPorts } from '../config/ports.ts';
import { decideServer, type ServerDecision } from '../server-state.ts';
import { canonical, familyOf } from './addr.ts';
import { SVC_F_ONEPACKET, SVC_F_PERSISTENT, serviceKey, type Destination, type ForwardMethod, type Protocol, type Service } from './model.ts';

export const MAX_PORT_SERVICES = 256;

export interface DesiredService {
  service: Service;
  destinations: Destination[];
  /** Virtual service name and, per destination key, the real server name (for results and counters). */
  virtualService: string;
  realServers: Map<string, string>;
}

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

export function decisionFor(vs: VirtualService, rs: VirtualService['realServers'][number], decisions: ReadonlyMap<string, ServerDecision>): ServerDecision {
  return decisions.get(`${vs.name}/${rs.name}`) ?? decideServer(rs.state, 'unknown', rs.weight);
}

export function desiredFromConfig(config: Config, decisions: ReadonlyMap<string, ServerDecision>): DesiredL4 {
  const out: DesiredL4 = { services: [], vips: [], snat: [], marks: [], sysctls: new Map(), refused: [], disabled: [] };
  for (const vs of config.virtualServices as VirtualService[]) {
    if (vs.layer !== 4) continue;
    if (!vs.isEnabled) {
      out.disabled.push(vs.name);
      continue;
    }
    const family = familyOf(vs.address);
    const vip = canonical(vs.address);
    const protocols: Protocol[] = vs.protocol === 'both' ? ['tcp', 'udp'] : [vs.protocol];
    const persistence = vs.persistence.type === 'source-ip' ? vs.persistence : undefined;
    const baseSettings = {
      scheduler: vs.scheduler,
      timeout: persistence ? persistence.timeoutSeconds : 0,
      netmaskPrefix: persistence?.netmaskPrefix ?? (family === 6 ? 128 : 32),
      peName: '',
    };
    const flagsFor = (p: Protocol | 'fwmark') =>
      (persistence ? SVC_F_PERSISTENT : 0) | (vs.layer4?.onePacketScheduling && (p === 'udp' || (p === 'fwmark' && protocols.includes('udp'))) ? SVC_F_ONEPACKET : 0);

    // Real servers: decided state, then the backup rule.
    const decided = vs.realServers.map((rs) => ({ rs, d: decisionFor(vs, rs, decisions) }));
    const primaryServes = decided.some(({ rs, d }) => !rs.isBackup && d.disposition === 'serve' && d.weight > 0);
    const destsFor = (servicePort: number): { dests: Destination[]; names: Map<string, string> } => {
      const dests: Destination[] = [];
      const names = new Map<string, string>();
      for (const { rs, d } of decided) {
        if (d.disposition === 'remove') continue;
        const address = canonical(rs.address);
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
        const address = canonical(fb.address);
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
      out.services.push({ service: { family, fwmark: vs.firewallMark, flags: flagsFor('fwmark'), ...baseSettings }, destinations: dests, virtualService: vs.name, realServers: names });
      if (vs.ports.length > 0) out.marks.push({ virtualService: vs.name, family, vip, protocols, ports: vs.ports, mark: vs.firewallMark });
    } else {
      const ports = expandPorts(vs.ports);
      if (ports.length * protocols.length > MAX_PORT_SERVICES) {
        out.refused.push({ virtualService: vs.name, code: 'IPVS_PORT_RANGE', params: { service: vs.name, count: ports.length * protocols.length, max: MAX_PORT_SERVICES } });
        continue;
      }
      for (const protocol of protocols) {
        for (const port of ports) {
          const { dests, names } = destsFor(port);
          out.services.push({ service: { family, protocol, address: vip, port, flags: flagsFor(protocol), ...baseSettings }, destinations: dests, virtualService: vs.name, realServers: names });
        }
      }
    }

    if (vs.interface) out.vips.push({ address: vip, prefix: family === 6 ? 128 : 32, interface: vs.interface, virtualService: vs.name });
    if (vs.mode === 'nat' || vs.mode === 'snat') out.sysctls.set(family === 6 ? 'net/ipv6/conf/all/forwarding' : 'net/ipv4/ip_forward', '1');
    if (vs.mode === 'snat') {
      // IPVS must keep conntrack entries for its connections, or nf_nat never sees them to rewrite the source.
      out.sysctls.set('net/ipv4/vs/conntrack', '1');
      for (const { rs, d } of decided) {
        if (d.disposition === 'remove') continue;
        out.snat.push({ virtualService: vs.name, family, vip, realServer: canonical(rs.address) });
      }
    }
  }
  // Two virtual services never map to one IPVS service (the schema refuses overlapping VIP:port), but dedupe rules.
  out.snat = dedupe(out.snat, (r) => `${r.family}|${r.vip}|${r.realServer}`);
  return out;
}

function dedupe<T>(xs: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)));
}

export function desiredKeys(d: DesiredL4): Set<string> {
  return new Set(d.services.map((s) => serviceKey(s.service)));
}
