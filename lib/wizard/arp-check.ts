/**
 * "Solving the ARP problem", checked from this appliance for each real server of a DR (or TUN) service, for the
 * wizard's final screen. In DR the appliance alone may answer ARP for the VIP; a real server that answers too steals
 * clients from it (the LAN's switches learn its MAC for the VIP), so the check asks the LAN, as a client's router would:
 *
 *   1. who-has <real server>  from the appliance's interface on that subnet: the server is on the LAN, and its MAC;
 *   2. who-has <VIP>          from the same interface and source address: every MAC that answers. The appliance
 *                             never answers its own request, so any answer is another host's; the server's own MAC
 *                             among them means its VIP is not on a non-ARPing interface (arp_ignore / weak host).
 *
 * The probe is iputils `arping` (Debian's iputils-arping, which ships it with the cap_net_raw file capability, so the
 * console needs no root for it; scripts/install-system-deps.sh installs it). It goes only where health checks may go
 * (FULCRUM_HEALTH_ALLOWED_NETWORKS, as probe.ts). IPv6 has no ARP: Linux answers a neighbour solicitation only for an
 * address on the interface it arrives on, so a VIP on lo is quiet by itself; those servers are reported, not probed.
 *
 * What ARP cannot tell: whether a quiet server holds the VIP at all (on lo, or the loopback adapter). That needs a
 * frame to the VIP at the server's MAC, a raw socket the console does not have: vip-check.ts has the engine send it,
 * to the MAC found here.
 */
import { execFile } from 'node:child_process';
import ipaddr from 'ipaddr.js';
import type { HostAddress } from './preflight.ts';
import { notProbedReason } from './probe.ts';

export interface ArpCheckTarget {
  service: string;
  vip: string;
  realServer: { name: string; address: string };
}

export interface ArpReply {
  address: string;
  mac: string;
}

export interface ArpCheckResult {
  service: string;
  realServer: string;
  address: string;
  /** ok: answers on its own address, not for the VIP. answers-arp: the ARP problem is not solved. */
  outcome: 'ok' | 'answers-arp' | 'no-answer' | 'no-interface' | 'not-probed' | 'error';
  mac: string | null;
  message: string;
}

/** One `arping` run: who answered for `target`, asked from `iface` with source `source`. */
export type Arping = (target: string, iface: string, source: string, isEveryAnswer?: boolean) => Promise<ArpReply[]>;

/**
 * The replies in iputils arping's output: `Unicast reply from 10.0.0.10 [02:00:0A:00:00:02]  0.734ms`. A host that
 * answers twice (or a request repeated) counts once.
 */
export function parseArping(text: string): ArpReply[] {
  const out: ArpReply[] = [];
  for (const m of text.matchAll(/reply from (\S+) \[([0-9A-Fa-f:]{17})\]/g)) {
    const r = { address: m[1], mac: m[2].toLowerCase() };
    if (!out.some((x) => x.mac === r.mac && x.address === r.address)) out.push(r);
  }
  return out;
}

/**
 * iputils arping within a 2 s deadline (-w). For every answer (`isEveryAnswer`, the VIP): broadcast each request
 * (-b; arping otherwise goes unicast to the first host that answered, and a second host answering for the VIP is
 * the whole point) and wait for up to 16 answers. For a server's own address: stop at the first answer (-f). Exit 1
 * is "no reply", an answer, not an error. (This arping takes whole seconds for -i, so the default 1 s interval stays.)
 */
export const runArping: Arping = (target, iface, source, isEveryAnswer = false) =>
  new Promise((resolve, reject) => {
    const mode = isEveryAnswer ? ['-b', '-c', '16'] : ['-f', '-c', '2'];
    execFile('arping', ['-I', iface, '-s', source, ...mode, '-w', '2', target], { timeout: 5000 }, (err, stdout, stderr) => {
      // execFile's error carries the exit status as a number in `code` (a string there is a spawn error: ENOENT).
      const code = (err as { code?: unknown } | null)?.code;
      if (err && code !== 1) return reject(new Error((stderr || err.message).trim().split('\n')[0]));
      resolve(parseArping(stdout));
    });
  });

/**
 * The appliance's address on the subnet of `address` (longest prefix; never a /32 such as a VIP, and never lo, which
 * has no ARP, unless `isLoopbackToo`: then only to tell a loopback real server apart from one on no subnet at all).
 */
export function interfaceFor(address: string, host: HostAddress[], isLoopbackToo = false): HostAddress | undefined {
  const a = ipaddr.process(address);
  return host
    .filter((h) => (isLoopbackToo || h.interface !== 'lo') && h.prefix < 32 && h.address !== address)
    .filter((h) => {
      try {
        const n = ipaddr.process(h.address);
        return n.kind() === a.kind() && a.match(n, h.prefix);
      } catch {
        return false;
      }
    })
    .sort((x, y) => y.prefix - x.prefix)[0];
}

const FIX =
  'the loopback/arp_ignore settings are missing — see the Linux script (VIP on lo, arp_ignore=1, arp_announce=2) or, on Windows, the loopback adapter with weak host send and receive';

/** Checks one real server; every outcome is a sentence about that server. */
async function checkOne(t: ArpCheckTarget, host: HostAddress[], arping: Arping): Promise<ArpCheckResult> {
  const rs = t.realServer;
  const base = { service: t.service, realServer: rs.name, address: rs.address, mac: null };
  const say = (outcome: ArpCheckResult['outcome'], message: string, mac: string | null = null) => ({
    ...base,
    outcome,
    message: `${rs.name}: ${message}`,
    mac,
  });
  if (ipaddr.process(rs.address).kind() === 'ipv6')
    return say('not-probed', 'IPv6 has no ARP; Linux answers neighbour solicitations only on the interface an address is on, so a VIP on lo stays quiet.');
  const reason = notProbedReason(rs.address) ?? notProbedReason(t.vip);
  if (reason) return say('not-probed', reason);
  const lan = interfaceFor(rs.address, host);
  if (!lan && interfaceFor(rs.address, host, true)) return say('not-probed', `${rs.address} is on this appliance's loopback, where there is no ARP to ask.`);
  if (!lan) return say('no-interface', `this appliance has no interface on the subnet of ${rs.address}, so it cannot ask the LAN (DR needs one).`);
  try {
    const own = (await arping(rs.address, lan.interface, lan.address)).filter((r) => r.address === rs.address);
    if (own.length === 0) return say('no-answer', `no ARP answer for its own address ${rs.address} on ${lan.interface}: is it on this LAN, and switched on?`);
    const macs = new Set(own.map((r) => r.mac));
    const forVip = await arping(t.vip, lan.interface, lan.address, true);
    const mac = own[0].mac;
    if (forVip.some((r) => macs.has(r.mac))) return say('answers-arp', `answers ARP for the VIP ${t.vip} (from ${mac}): ${FIX}.`, mac);
    const others = forVip.map((r) => r.mac).filter((m) => !macs.has(m));
    return say(
      'ok',
      `does not answer ARP for the VIP ${t.vip} (it answers for ${rs.address} from ${mac}).` +
        (others.length ? ` Another host does answer for the VIP (${[...new Set(others)].join(', ')}): find it before going live.` : ''),
      mac,
    );
  } catch (e) {
    return say('error', `the ARP probe on ${lan.interface} failed (${(e as Error).message}).`);
  }
}

/** Every target, one after another (each asks the LAN a few frames' worth; nothing runs in parallel on the wire). */
export async function checkArp(targets: ArpCheckTarget[], host: HostAddress[], arping: Arping = runArping): Promise<ArpCheckResult[]> {
  const out: ArpCheckResult[] = [];
  for (const t of targets) out.push(await checkOne(t, host, arping));
  return out;
}
