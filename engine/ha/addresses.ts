/**
 * Who brings each address up: keepalived, or the engine itself.
 *
 * Addresses that move with the HA group (config/schema.ts haMovingAddresses: by default every floating IP and every
 * VIP of a service with an interface) are keepalived's: they are its `virtual_ipaddress`, added when an instance
 * becomes MASTER and removed when it leaves MASTER or stops. Everything else (HA off, or an address left out of
 * `ha.movingAddresses`) the engine brings up itself through rtnetlink (l4/host.ts reconcileVips, recorded in
 * l4-owned.json).
 *
 * Why keepalived and not the engine's rtnetlink for moving addresses: the address must follow the VRRP state
 * exactly and at once, and keepalived changes both in one process — it adds the address in the same step as it
 * enters MASTER, sends the gratuitous ARPs / unsolicited neighbour advertisements (and repeats them after
 * garp_master_delay), and removes the address when it leaves MASTER or is stopped. Done by the engine, every
 * failover would wait for the notify FIFO and the engine's event loop, a stalled engine would hold addresses the
 * peer has taken (two nodes answering ARP for one VIP), and the engine would need raw sockets for ARP. The engine
 * still checks what keepalived did: status reads the addresses back from the kernel, and when keepalived dies
 * unexpectedly the engine removes the moving addresses at once (a SIGKILLed keepalived leaves them behind).
 */
import { canonicalAddress, haMovingAddresses, type Config, type HaAddress } from '../config/index.ts';
import type { OwnedVip } from '../l4/ownership.ts';

export { haCandidateAddresses, haInterfaceGroups, haMovingAddresses } from '../config/index.ts';

export interface HostAddress extends OwnedVip {
  /** The virtual service it serves (its failure fails that service), or none for a floating IP. */
  virtualService?: string;
}

const key = (a: { address: string; interface: string }) => `${canonicalAddress(a.address)}|${a.interface}`;

/**
 * The addresses the engine brings up itself: the layer 4 VIPs it was given (desired.ts, each with its service),
 * layer 7 VIPs with an interface, and floating IPs — less every address that moves with the HA group.
 */
export function engineHeldAddresses(config: Config, l4Vips: readonly HostAddress[]): HostAddress[] {
  const movingAddresses = haMovingAddresses(config);
  const moving = movingAddresses.length ? new Set(movingAddresses.map(key)) : undefined;
  const out = new Map<string, HostAddress>();
  const add = (a: HostAddress) => {
    const k = key(a);
    if (!moving?.has(k) && !out.has(k)) out.set(k, a);
  };
  // Indexed loops: called on every apply, and a for-of over 1,000 services allocates an iterator result a step until
  // V8 optimises it (~37 KiB an apply).
  for (let i = 0; i < l4Vips.length; i++) add(l4Vips[i]);
  const services = config.virtualServices;
  for (let i = 0; i < services.length; i++) {
    const vs = services[i];
    if (vs.layer === 7 && vs.isEnabled && vs.interface)
      add({ address: vs.address, prefix: vs.address.includes(':') ? 128 : 32, interface: vs.interface, virtualService: vs.name });
  }
  for (const f of config.floatingIps) add({ address: f.address, prefix: f.prefixLength ?? (f.address.includes(':') ? 128 : 32), interface: f.interface });
  return [...out.values()];
}

/**
 * Sysctls HA needs, set like the layer 4 ones (l4/host.ts ensureSysctls): with ip_nonlocal_bind the standby's
 * layer 7 listeners bind their VIPs although keepalived has not added them, so a failover only adds an address.
 */
export function haSysctls(config: Config): Map<string, string> {
  if (!config.ha?.isEnabled) return new Map();
  return new Map([
    ['net/ipv4/ip_nonlocal_bind', '1'],
    ['net/ipv6/ip_nonlocal_bind', '1'],
  ]);
}

export type { HaAddress };
