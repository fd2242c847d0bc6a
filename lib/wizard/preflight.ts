/**
 * Pre-flight checks against this appliance's real network, before anything is staged:
 *
 *   every mode  VIP:port not already taken on this host: a socket listening on it (or on every address, 0.0.0.0 /
 *               [::], at that port), read from /proc/net/tcp and /proc/net/tcp6; VIP:port taken by another
 *               configured service is the config schema's own rule, already checked by the step engine.
 *   DR (TUN)    an interface of this appliance on each real server's subnet (DR rewrites only the MAC address, so
 *               the appliance must reach them at Layer 2), and the VIP on a local subnet (the VIP is brought up on
 *               an interface in its subnet); a named interface must exist.
 *
 * Where the addresses come from: os.networkInterfaces() in the console. The engine (which reads rtnetlink) has no
 * address-listing endpoint, and the console runs on the same host with the same view of the interfaces (the
 * engine's own network namespace is the host's); the address reader is a parameter, so the checks themselves are
 * tested with any set of interfaces. Each failure says what to change.
 */
import fs from 'node:fs';
import os from 'node:os';
import ipaddr from 'ipaddr.js';
import { addressFamily, addressFromBytes, expandPorts, endpointText, sameAddress, type VirtualService } from '../../engine/config/index.ts';
import type { WizardIssue } from './answers.ts';

export interface HostAddress {
  interface: string;
  address: string;
  /** Prefix length of the interface's subnet. */
  prefix: number;
}

export interface Listener {
  address: string;
  port: number;
}

export interface PreflightResult {
  checks: { name: string; isOk: boolean; message: string }[];
  issues: WizardIssue[];
  /** Which source the addresses were read from, for the review screen. */
  addressSource: string;
}

export function hostAddresses(): HostAddress[] {
  const out: HostAddress[] = [];
  for (const [name, list] of Object.entries(os.networkInterfaces())) {
    for (const a of list ?? []) {
      const prefix = a.cidr ? Number(a.cidr.split('/')[1]) : a.family === 'IPv4' ? 32 : 128;
      out.push({ interface: name, address: a.address.replace(/%.*$/, ''), prefix });
    }
  }
  return out;
}

/** Listening TCP sockets from /proc/net/tcp{,6} (state 0A). Addresses are little-endian hex words per 32 bits. */
export function parseProcNetTcp(text: string, family: 4 | 6): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '0A') continue;
    const [hex, portHex] = f[1].split(':');
    const words = hex.match(/.{8}/g) ?? [];
    const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
    if (bytes.length !== (family === 4 ? 4 : 16)) continue;
    const address = addressFromBytes(bytes);
    out.push({ address, port: parseInt(portHex, 16) });
  }
  return out;
}

export function hostListeners(): Listener[] {
  const read = (file: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  return [...parseProcNetTcp(read('/proc/net/tcp'), 4), ...parseProcNetTcp(read('/proc/net/tcp6'), 6)];
}

function inSubnet(address: string, net: HostAddress): boolean {
  try {
    const a = ipaddr.parse(address);
    const n = ipaddr.parse(net.address);
    if (a.kind() !== n.kind()) return false;
    return a.match(n, net.prefix);
  } catch {
    return false;
  }
}

const same = sameAddress;
const isWildcard = (a: string) => a === '0.0.0.0' || same(a, '::');

/** Every interface as "eth0 10.0.0.5/24", for the sentences that say what this appliance has. */
function describe(addresses: HostAddress[], family: 4 | 6): string {
  const list = addresses.filter((a) => addressFamily(a.address) === family).map((a) => `${a.interface} ${a.address}/${a.prefix}`);
  return list.length ? list.join(', ') : `no IPv${family} address`;
}

/** `portIndexOf`: where a port is in the run's port list (a layer 7 run splits its ports over two services). */
export function preflight(
  objects: VirtualService[],
  host: { addresses: HostAddress[]; listeners: Listener[]; addressSource?: string },
  portIndexOf: (port: number) => number | undefined = () => undefined,
): PreflightResult {
  const checks: PreflightResult['checks'] = [];
  const issues: WizardIssue[] = [];
  const fail = (name: string, issue: WizardIssue) => {
    checks.push({ name, isOk: false, message: issue.message });
    issues.push(issue);
  };
  for (const vs of objects) {
    const ports = expandPorts(vs.ports);
    ports.forEach((port, i) => {
      // [::] is dual-stack by default on Linux (bindv6only 0), so it takes the port for IPv4 VIPs too.
      const taken = host.listeners.find(
        (l) => l.port === port && (same(l.address, vs.address) || same(l.address, '::') || (l.address === '0.0.0.0' && addressFamily(vs.address) === 4)),
      );
      const name = `${endpointText(vs.address, port)} is free on this host`;
      if (taken) {
        const by = isWildcard(taken.address)
          ? `a program on this appliance listens on port ${port} on every address (${endpointText(taken.address, port)})`
          : `a program on this appliance already listens on ${endpointText(vs.address, port)}`;
        fail(name, { step: 'service', path: `ports.${portIndexOf(port) ?? i}.port`, message: `${by}; choose another port or VIP, or stop that program.` });
      } else checks.push({ name, isOk: true, message: 'Nothing listens on it.' });
    });
    if (vs.layer !== 4 || (vs.mode !== 'dr' && vs.mode !== 'tun')) continue;
    const family = addressFamily(vs.address);
    if (vs.interface && !host.addresses.some((a) => a.interface === vs.interface)) {
      fail(`interface ${vs.interface} exists`, {
        step: 'service',
        path: 'interface',
        message: `This appliance has no interface "${vs.interface}"; it has ${[...new Set(host.addresses.map((a) => a.interface))].join(', ')}.`,
      });
    }
    const vipNet = host.addresses.find((a) => inSubnet(vs.address, a) && (!vs.interface || a.interface === vs.interface));
    if (vipNet) checks.push({ name: `VIP ${vs.address} is on a local subnet`, isOk: true, message: `${vipNet.interface} ${vipNet.address}/${vipNet.prefix}` });
    else
      fail(`VIP ${vs.address} is on a local subnet`, {
        step: 'service',
        path: 'address',
        message: `The VIP ${vs.address} is not in any subnet of this appliance${vs.interface ? ` on ${vs.interface}` : ''} (${describe(host.addresses, family)}). Choose a VIP in one of those subnets, or add an address in the VIP's subnet to an interface first.`,
      });
    vs.realServers.forEach((rs, i) => {
      const net = host.addresses.find((a) => inSubnet(rs.address, a));
      const name = `an interface on the subnet of ${rs.name} (${rs.address})`;
      if (net) checks.push({ name, isOk: true, message: `${net.interface} ${net.address}/${net.prefix}` });
      else
        fail(name, {
          step: 'servers',
          path: `realServers.${i}.address`,
          message: `No interface of this appliance is on a subnet holding ${rs.address} (it has ${describe(host.addresses, family)}). DR needs the appliance on the real servers' subnet: add an address in that subnet to an interface, or choose Layer 7 SNAT, which reaches any subnet.`,
        });
    });
  }
  // Two services of one run on the same port fail the schema already; a port listed once per service is enough here.
  const unique = issues.filter((x, n) => issues.findIndex((y) => y.path === x.path && y.step === x.step) === n);
  return { checks, issues: unique, addressSource: host.addressSource ?? 'os.networkInterfaces() and /proc/net/tcp{,6} on this host' };
}
