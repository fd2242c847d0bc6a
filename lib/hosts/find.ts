/**
 * Hosts: a real server's address, wherever it appears. A patch night works host by host ("sym-app-1 is being
 * patched"), while the configuration lists real servers per virtual service; this groups the stored (candidate)
 * real servers by address so one action can reach every service, Layer 4 and Layer 7, that sends traffic there.
 *
 * Addresses compare canonically (engine/config canonicalAddress): "2001:DB8::1" and "2001:db8:0::1" are one host.
 */
import { canonicalAddress } from '../../engine/config/index.ts';
import { db, type Tx } from '../db.ts';
import type { OperatorState } from '../../engine/config/index.ts';

export interface HostServer {
  id: string;
  virtualServiceId: string;
  virtualService: string;
  layer: 4 | 7;
  realServer: string;
  address: string;
  port: number | null;
  state: OperatorState;
}

export interface HostSummary {
  address: string;
  /** The real servers' names at this address (usually one name used in several services). */
  names: string[];
  services: string[];
  servers: number;
  states: Record<OperatorState, number>;
}

type Reader = Pick<Tx, 'realServer'>;

async function allServers(reader: Reader): Promise<HostServer[]> {
  const rows = await reader.realServer.findMany({
    select: { id: true, name: true, address: true, port: true, state: true, virtualService: { select: { id: true, name: true, layer: true } } },
    orderBy: [{ address: 'asc' }, { name: 'asc' }],
  });
  return rows.map((r) => ({
    id: r.id,
    virtualServiceId: r.virtualService.id,
    virtualService: r.virtualService.name,
    layer: r.virtualService.layer === 4 ? 4 : 7,
    realServer: r.name,
    address: r.address,
    port: r.port,
    state: r.state as OperatorState,
  }));
}

/** Every real server whose address is `address` (canonically), ordered by service then server name. */
export async function serversAt(address: string, reader: Reader = db()): Promise<HostServer[]> {
  const want = canonicalAddress(address);
  return (await allServers(reader))
    .filter((s) => canonicalAddress(s.address) === want)
    .sort((a, b) => a.virtualService.localeCompare(b.virtualService) || a.realServer.localeCompare(b.realServer));
}

/**
 * Hosts whose address or any real server's name contains `search` (case-insensitive; empty: all), by address.
 * At most `limit` are returned; `total` says how many matched.
 */
export async function listHosts(search = '', limit = 200): Promise<{ items: HostSummary[]; total: number }> {
  const byHost = new Map<string, HostServer[]>();
  for (const s of await allServers(db())) {
    const key = canonicalAddress(s.address);
    byHost.set(key, [...(byHost.get(key) ?? []), s]);
  }
  const needle = search.trim().toLowerCase();
  const matches = [...byHost.values()].filter(
    (list) => !needle || list.some((s) => s.address.toLowerCase().includes(needle) || s.realServer.toLowerCase().includes(needle)),
  );
  const items = matches.map((list): HostSummary => {
    const states: Record<OperatorState, number> = { online: 0, drain: 0, halt: 0 };
    for (const s of list) states[s.state] += 1;
    return {
      address: list[0].address,
      names: [...new Set(list.map((s) => s.realServer))].sort(),
      services: [...new Set(list.map((s) => s.virtualService))].sort(),
      servers: list.length,
      states,
    };
  });
  items.sort((a, b) => compareAddresses(a.address, b.address));
  return { items: items.slice(0, limit), total: items.length };
}

/** IPv4 in numeric order (10.0.0.9 before 10.0.0.10), then IPv6 by text. */
function compareAddresses(a: string, b: string): number {
  const v4 = (x: string) => (/^\d+\.\d+\.\d+\.\d+$/.test(x) ? x.split('.').reduce((n, o) => n * 256 + Number(o), 0) : undefined);
  const [na, nb] = [v4(a), v4(b)];
  if (na !== undefined && nb !== undefined) return na - nb;
  if (na !== undefined) return -1;
  if (nb !== undefined) return 1;
  return a.localeCompare(b);
}
