/**
 * /proc/net/ip_vs, the kernel's text view of the whole table, read in one go. The reconciler uses it to confirm a
 * bulk apply cheaply: where netlink needs one GET_DEST dump per service (1,000 round trips for 1,000 services),
 * this is one file read. It carries less than netlink — per destination only address, port, forwarding method,
 * weight and connection counts (no thresholds, no tunnel type), and firewall-mark services without their address
 * family — so destinations read here are marked `isSummary`, and firewall-mark services are read over netlink.
 *
 *   TCP  0A000001:0050 wrr  persistent 30000 FFFFFF00            ← service: protocol, hex address:port, scheduler …
 *     -> 0A000101:1F90      Masq    5      0          0         ← destination: hex address:port, forward, weight,
 *   UDP  [2001:0db8:…:0001]:0035 sh                                  active, inactive
 *     -> [2001:0db8:…:0005]:14E9      Masq    9      0          0
 *   FWM  00000007 rr
 */
import { canonicalAddress } from '../config/address.ts';
import type { ForwardMethod, ObservedDestination } from './model.ts';

const FORWARD: Record<string, ForwardMethod> = { Masq: 'masq', Local: 'local', Tunnel: 'tunnel', Route: 'route', Bypass: 'bypass' };

function hexAddress(s: string): { address: string; family: 4 | 6 } {
  if (s.startsWith('[')) return { address: canonicalAddress(s.slice(1, -1)), family: 6 };
  const n = parseInt(s, 16);
  return { address: `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`, family: 4 };
}

function splitEndpoint(s: string): { address: string; family: 4 | 6; port: number } {
  const i = s.lastIndexOf(':');
  return { ...hexAddress(s.slice(0, i)), port: parseInt(s.slice(i + 1), 16) };
}

/** Destinations by service key (model.ts serviceKey), for address/port services only. */
export function parseProcIpVs(text: string): Map<string, ObservedDestination[]> {
  const out = new Map<string, ObservedDestination[]>();
  let current: ObservedDestination[] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('  -> ')) {
      if (!current) continue;
      const [ep, fwd, weight, active, inactive] = line.slice(5).trim().split(/\s+/);
      if (!ep || ep === 'RemoteAddress:Port') continue;
      const { address, family, port } = splitEndpoint(ep);
      current.push({
        address,
        port,
        family,
        forward: FORWARD[fwd] ?? 'masq',
        weight: Number(weight),
        upperThreshold: 0,
        lowerThreshold: 0,
        activeConnections: Number(active),
        inactiveConnections: Number(inactive),
        persistentConnections: 0,
        isSummary: true,
      });
      continue;
    }
    const m = /^(TCP|UDP|SCTP)\s+(\S+)\s/.exec(line);
    if (m) {
      const { address, family, port } = splitEndpoint(m[2]);
      current = [];
      out.set(`${m[1].toLowerCase()}|${family}|${address}|${port}`, current);
    } else {
      current = undefined; // FWM (family unknown here) or headers
    }
  }
  return out;
}
