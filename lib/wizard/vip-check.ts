/**
 * The other half of "solving the ARP problem", after the ARP check (arp-check.ts): does each DR real server take a
 * packet for the VIP when it arrives at its own MAC, as the director delivers it? A quiet server may be quiet only
 * because it lacks the VIP altogether, and then every client the director hands it is dropped.
 *
 * ARP gave each server's MAC; the engine (root: it owns raw sockets, the console does not) sends a SYN to VIP:port
 * framed to that MAC from this appliance's address on the LAN and says what came back (engine/probe/vip-answer.ts).
 * The first port of the service is probed: DR has no port translation, so the server serves VIP:port itself, and one
 * port tells whether the VIP is its own. Servers run at once (each probe takes a few seconds of nping's waiting).
 */
import { expandPorts } from '../../engine/config/index.ts';
import type { VipAnswer, VipAnswerRequest } from '../../engine/probe/vip-answer.ts';
import type { ArpTarget } from './arp-scripts.ts';
import { type ArpCheckResult, interfaceFor } from './arp-check.ts';
import type { HostAddress } from './preflight.ts';

export interface VipCheck {
  /** accepts: SYN-ACK; not-listening: RST (takes the VIP, nothing serves the port); no-answer: drops it. */
  outcome: 'accepts' | 'not-listening' | 'no-answer' | 'not-checked' | 'error';
  port: number | null;
  message: string;
}

export type VipProbe = (request: VipAnswerRequest) => Promise<VipAnswer>;

const FIX =
  'add the VIP to its loopback adapter — on Linux the VIP on lo (its script does it), on Windows the Microsoft KM-TEST loopback adapter with the VIP and weak host send and receive';

function words(arp: ArpCheckResult, t: ArpTarget, port: number, a: VipAnswer): VipCheck {
  const at = `a SYN to ${t.vip}:${port} sent to its MAC ${arp.mac}`;
  const say = (outcome: VipCheck['outcome'], message: string) => ({ outcome, port, message: `${arp.realServer}: ${message}` });
  if (a.outcome === 'error') return say('error', `the VIP check could not be made (${a.error ?? 'no reason given'}).`);
  if (a.outcome === 'no-answer')
    return say(
      'no-answer',
      `does not accept packets for the VIP ${t.vip} (${at} had no answer): ${FIX}; or, if it has the VIP, let port ${port} through its firewall.`,
    );
  if (a.reply === 'rst')
    return say(
      'not-listening',
      `accepts packets for the VIP ${t.vip}, but nothing listens on ${t.vip}:${port} there (${at} was refused): start the service, or bind it to the VIP or to all addresses.`,
    );
  return say('accepts', `accepts packets for the VIP ${t.vip} and answers on port ${port} (${at} was answered).`);
}

/**
 * The VIP check for each ARP result (in the same order as `targets`, as checkArp gives them). A server ARP could not
 * find, or that was not probed, is not checked: without its MAC there is no frame to send.
 */
export async function checkVipAnswers(
  arp: ArpCheckResult[],
  targets: ArpTarget[],
  host: HostAddress[],
  probe: VipProbe,
): Promise<(ArpCheckResult & { vipCheck: VipCheck })[]> {
  return Promise.all(
    arp.map(async (r, i) => {
      const t = targets[i];
      const port = expandPorts(t.ports)[0] ?? null;
      const lan = interfaceFor(r.address, host);
      if (!r.mac || !lan || port === null || (r.outcome !== 'ok' && r.outcome !== 'answers-arp'))
        return {
          ...r,
          vipCheck: {
            outcome: 'not-checked' as const,
            port,
            message: `${r.realServer}: not checked for the VIP: the ARP check found no MAC to send a frame to.`,
          },
        };
      try {
        const a = await probe({ vip: t.vip, port, mac: r.mac, interface: lan.interface, source: lan.address });
        return { ...r, vipCheck: words(r, t, port, a) };
      } catch (e) {
        return { ...r, vipCheck: { outcome: 'error' as const, port, message: `${r.realServer}: the VIP check failed (${(e as Error).message}).` } };
      }
    }),
  );
}
