/**
 * The director's host settings that IPVS modes need: sysctls (forwarding for NAT/SNAT, vs/conntrack for SNAT) and
 * VIP addresses on the configured interface, through rtnetlink. Sysctls are set, never reset (another service may
 * rely on forwarding); VIPs are added only where missing and removed only if this engine added them.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { parseAddress, familyOf, formatAddress } from './addr.ts';
import type { OwnedVip } from './ownership.ts';

const require = createRequire(import.meta.url);

export interface SysctlReport {
  path: string;
  value: string;
  wasChanged: boolean;
  error?: string;
}

export function readSysctl(p: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/sys/${p}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function ensureSysctls(wanted: ReadonlyMap<string, string>): SysctlReport[] {
  const out: SysctlReport[] = [];
  for (const [p, value] of wanted) {
    const now = readSysctl(p);
    if (now === value) {
      out.push({ path: p, value, wasChanged: false });
      continue;
    }
    try {
      fs.writeFileSync(`/proc/sys/${p}`, value);
      out.push({ path: p, value, wasChanged: true });
    } catch (e) {
      out.push({ path: p, value: now ?? '(absent)', wasChanged: false, error: (e as Error).message });
    }
  }
  return out;
}

const AF_INET = 2;
const AF_INET6 = 10;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_HOST = 254;

type RtSocket = {
  getLinks(): Promise<{ data: { index: number }; attrs: { ifname?: string } }[]>;
  getAddresses(): Promise<{ data: { family: number; prefixlen: number; index: number }; attrs: { local?: Buffer; address?: Buffer } }[]>;
  newAddress(d: object, a: object, o?: object): Promise<unknown>;
  delAddress(d: object, a: object, o?: object): Promise<unknown>;
  socket: { close(): void };
};

export interface VipResult {
  address: string;
  interface: string;
  /** added: we added it now; present: it was there (ours or not); removed: we removed ours; failed: see error. */
  outcome: 'added' | 'present' | 'removed' | 'failed';
  error?: string;
}

/**
 * Makes the wanted VIPs present and removes previously owned ones no longer wanted. Returns what it did and the new
 * list of owned VIPs. Never removes an address it did not add.
 */
export async function reconcileVips(wanted: readonly OwnedVip[], owned: readonly OwnedVip[]): Promise<{ results: VipResult[]; owned: OwnedVip[] }> {
  if (wanted.length === 0 && owned.length === 0) return { results: [], owned: [] };
  const netlink = require('netlink');
  const rt: RtSocket = netlink.createRtNetlink();
  const results: VipResult[] = [];
  const nowOwned: OwnedVip[] = [];
  const key = (v: { address: string; interface: string }) => `${v.address}|${v.interface}`;
  try {
    const links = await rt.getLinks();
    const indexOf = new Map(links.map((l) => [l.attrs.ifname, l.data.index]));
    const addrs = await rt.getAddresses();
    const has = (v: OwnedVip) => {
      const idx = indexOf.get(v.interface);
      const bytes = parseAddress(v.address);
      return addrs.some((a) => a.data.index === idx && (a.attrs.local ?? a.attrs.address)?.equals(bytes));
    };
    const wantedKeys = new Set(wanted.map(key));
    const ownedKeys = new Set(owned.map(key));
    for (const v of wanted) {
      const index = indexOf.get(v.interface);
      if (index === undefined) {
        results.push({ address: v.address, interface: v.interface, outcome: 'failed', error: `there is no interface ${v.interface} on this machine` });
        continue;
      }
      if (has(v)) {
        results.push({ address: v.address, interface: v.interface, outcome: 'present' });
        if (ownedKeys.has(key(v))) nowOwned.push(v);
        continue;
      }
      const family = familyOf(v.address);
      const bytes = parseAddress(v.address);
      try {
        // IPv6: nodad, so the VIP answers at once instead of sitting "tentative" for a second of duplicate detection;
        // and deprecated (preferred lifetime 0, valid forever), so the director never picks the VIP as the source of
        // its own packets. A /128 VIP otherwise wins source selection's longest-prefix rule over the interface's own
        // /64 address: TUN would then encapsulate from the VIP, which the real servers also hold and so drop, and
        // the director's own connections would leave from an address that is not only its own.
        await rt.newAddress(
          {
            family: family === 6 ? AF_INET6 : AF_INET,
            prefixlen: v.prefix,
            index,
            scope: v.interface === 'lo' ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE,
            flags: family === 6 ? { nodad: true } : {},
          },
          family === 6 ? { local: bytes, address: bytes, cacheInfo: { ifaPrefered: 0, ifaValid: 0xffffffff } } : { local: bytes, address: bytes },
          { flags: 0x400 | 0x200 }, // NLM_F_CREATE | NLM_F_EXCL
        );
        results.push({ address: v.address, interface: v.interface, outcome: 'added' });
        nowOwned.push(v);
      } catch (e) {
        results.push({ address: v.address, interface: v.interface, outcome: 'failed', error: (e as Error).message });
      }
    }
    for (const v of owned) {
      if (wantedKeys.has(key(v))) continue;
      const index = indexOf.get(v.interface);
      if (index === undefined || !has(v)) continue;
      const bytes = parseAddress(v.address);
      try {
        await rt.delAddress({ family: familyOf(v.address) === 6 ? AF_INET6 : AF_INET, prefixlen: v.prefix, index }, { local: bytes, address: bytes });
        results.push({ address: v.address, interface: v.interface, outcome: 'removed' });
      } catch (e) {
        results.push({ address: v.address, interface: v.interface, outcome: 'failed', error: (e as Error).message });
        nowOwned.push(v);
      }
    }
  } finally {
    rt.socket.close();
  }
  return { results, owned: nowOwned };
}

/** Every address on this machine's interfaces (this network namespace), by interface name, in canonical text. */
export async function interfaceAddresses(): Promise<Map<string, string[]>> {
  const netlink = require('netlink');
  const rt: RtSocket = netlink.createRtNetlink();
  try {
    const [links, addrs] = [await rt.getLinks(), await rt.getAddresses()];
    const nameOf = new Map(links.map((l) => [l.data.index, l.attrs.ifname ?? String(l.data.index)]));
    const out = new Map<string, string[]>();
    for (const a of addrs) {
      const bytes = a.attrs.local ?? a.attrs.address;
      if (!bytes || (a.data.family !== AF_INET && a.data.family !== AF_INET6)) continue;
      const name = nameOf.get(a.data.index) ?? String(a.data.index);
      out.set(name, [...(out.get(name) ?? []), formatAddress(bytes, a.data.family === AF_INET6 ? 6 : 4)]);
    }
    return out;
  } finally {
    rt.socket.close();
  }
}
