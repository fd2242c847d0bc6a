/**
 * Does a DR real server accept a packet for the VIP? (POST /v1/probe/vip-answer, for the wizard's final screen.)
 *
 * In DR the director leaves the destination address alone and hands the frame to the real server's MAC, so the
 * server must take a packet addressed to the VIP as its own (the VIP on lo, or on Windows the loopback adapter with
 * weak host receive). This appliance holds the VIP itself, so an ordinary connect to it stays local: the probe builds
 * the frame a director would send instead — a TCP SYN to VIP:port in an Ethernet frame to the server's MAC (learnt
 * by ARP for its own address, lib/wizard/arp-check.ts), from this appliance's address on that LAN — and looks at what
 * comes back to that address:
 *
 *   SYN-ACK  the server takes the VIP and something listens on VIP:port        → accepts (listening)
 *   RST      the server takes the VIP, but nothing listens on that port there → accepts (not listening)
 *   nothing  the server dropped it: the VIP is not one of its addresses (or a firewall drops the port); asked
 *            twice before it is said
 *
 * The frame is nping's (Debian's nmap package: --dest-mac sends at the link layer, and it captures the replies). It
 * needs a raw socket, which the engine has as root and the console has not. After a SYN-ACK the probe sends the RST
 * a client's kernel would have (this appliance's own kernel drops the SYN-ACK: its source, the VIP, is a local
 * address), so no half-open connection is left on a clinical server for a minute of retransmissions.
 *
 * The engine trusts the console for where probes may go (it checks FULCRUM_HEALTH_ALLOWED_NETWORKS as for every
 * probe); it checks itself that the interface exists and holds the source address, so the request cannot make it
 * send from an address that is not its own.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';
import { EngineError } from '../errors.ts';

const Ipv4 = z.ipv4({ error: 'give an IPv4 address (IPv6 has no ARP, and DR over IPv6 is not probed this way)' });

export const VipAnswerRequestSchema = z.strictObject({
  vip: Ipv4,
  port: z.number().int().min(1).max(65535),
  /** The real server's MAC, as ARP for its own address gave it; a unicast address (the group bit clear). */
  mac: z
    .string()
    .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i, 'give a MAC address as six hex pairs with colons')
    .refine((m) => (Number.parseInt(m.slice(0, 2), 16) & 1) === 0, 'give a unicast MAC address'),
  interface: z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, 'give an interface name'),
  /** This appliance's address on that interface (the SYN's source; the reply comes back to it). */
  source: Ipv4,
});
export type VipAnswerRequest = z.infer<typeof VipAnswerRequestSchema>;

export interface VipAnswer {
  /** accepts: a SYN-ACK or an RST came back from VIP:port; no-answer: nothing did within the wait; error: the probe
   * could not be sent (`error` says why: nping missing, the interface down). */
  outcome: 'accepts' | 'no-answer' | 'error';
  /** What came back: syn-ack (something listens on VIP:port), rst (nothing does), or none. */
  reply: 'syn-ack' | 'rst' | 'none';
  /** Whether the RST that ends the half-open connection after a SYN-ACK was sent. */
  isReset: boolean;
  error?: string;
}

/** Runs nping with these arguments; its standard output. */
export type Nping = (args: string[]) => Promise<string>;

export const runNping: Nping = (args) =>
  new Promise((resolve, reject) => {
    // nping waits about 1.6 s for its capture before sending and 1 s after the last probe: 10 s means stuck.
    execFile('nping', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error((stderr || err.message).trim().split('\n')[0]));
      resolve(stdout);
    });
  });

/**
 * The TCP flags of the replies in nping's output that come from vip:port to source:sourcePort — a line such as
 * `RCVD (1.67s) TCP 10.0.0.10:80 > 10.0.0.1:41234 SA ttl=64 id=0 iplen=44 seq=91205 win=64240 <mss 1460>`.
 * Anything else it captured (another host's traffic on the same ports, ICMP) is not an answer to this probe.
 */
export function parseReplies(text: string, vip: string, port: number, source: string, sourcePort: number): string[] {
  const want = `TCP ${vip}:${port} > ${source}:${sourcePort} `;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('RCVD')) continue;
    const at = line.indexOf(want);
    if (at >= 0) out.push(line.slice(at + want.length).split(' ')[0]);
  }
  return out;
}

function hasSource(iface: string, source: string): boolean {
  return (os.networkInterfaces()[iface] ?? []).some((a) => a.family === 'IPv4' && a.address === source);
}

/** The interface's own MAC, as the kernel reports it; undefined when it has none to give (loopback, a tunnel). */
function interfaceMac(iface: string): string | undefined {
  const mac = os.networkInterfaces()[iface]?.[0]?.mac;
  return mac && mac !== '00:00:00:00:00:00' ? mac : undefined;
}

export async function probeVipAnswer(
  req: VipAnswerRequest,
  nping: Nping = runNping,
  isLocal = hasSource,
  macOf: (iface: string) => string | undefined = interfaceMac,
): Promise<VipAnswer> {
  if (!isLocal(req.interface, req.source))
    throw new EngineError('ENGINE_BAD_REQUEST', { reason: `${req.source} is not an address of this appliance's interface ${req.interface}.` });
  // A source port and sequence number of the probe's own, so its replies are told from any other traffic and the
  // RST that follows a SYN-ACK is in the server's window (seq = ours + 1, what the SYN-ACK acknowledges).
  const sourcePort = 40_000 + crypto.randomInt(20_000);
  const seq = crypto.randomInt(1, 2 ** 31);
  // The frame's source MAC given, not left to nping: its own lookup sometimes fails on a busy host ("fillPacket():
  // Cannot determine Source MAC address", seen in the test kernel between two probes of the same server).
  const sourceMac = macOf(req.interface);
  const common = ['--tcp', '-p', String(req.port), '-g', String(sourcePort), '--dest-mac', req.mac, '-e', req.interface, '-S', req.source];
  if (sourceMac) common.push('--source-mac', sourceMac);
  // Two SYNs half a second apart (the second the same segment again, as a client's retransmission): one lost frame
  // does not make a server that takes the VIP look like one that does not. Silence is asked again, two SYNs a second
  // apart: "does not take the VIP" sends an engineer to change a clinical server, so a reply that came after nping
  // stopped listening (a busy LAN, a busy appliance) must not be read as one. A server that drops it costs 3 s more.
  const flags: string[] = [];
  for (const delay of ['500ms', '1s']) {
    try {
      const out = await nping([...common, '--flags', 'syn', '--seq', String(seq), '-c', '2', '--delay', delay, req.vip]);
      flags.push(...parseReplies(out, req.vip, req.port, req.source, sourcePort));
    } catch (e) {
      return { outcome: 'error', reply: 'none', isReset: false, error: `nping could not send the probe: ${(e as Error).message}` };
    }
    if (flags.length > 0) break;
  }
  const isSynAck = flags.some((f) => f.includes('S') && f.includes('A'));
  const isRst = flags.some((f) => f.includes('R'));
  if (!isSynAck && !isRst) return { outcome: 'no-answer', reply: 'none', isReset: false };
  // A failed RST leaves only what any lost client leaves (retransmitted SYN-ACKs for a minute): the answer stands.
  const isReset =
    isSynAck &&
    (await nping([...common, '--flags', 'rst', '--seq', String((seq + 1) % 2 ** 32), '-c', '1', req.vip]).then(
      () => true,
      () => false,
    ));
  return { outcome: 'accepts', reply: isSynAck ? 'syn-ack' : 'rst', isReset };
}
