/**
 * Which of the configuration's HA nodes this engine is. The `ha` block is the same on every node (one ConfigVersion,
 * one hash), so the engine finds itself: by name when told (FULCRUM_HA_NODE, or the engine's option), else as the one
 * node whose address is on this machine's HA interface. Anything else — a name not in the list, no node address
 * here, or several — is refused with HA_NODE_UNKNOWN rather than guessed: a wrong guess would send adverts with the
 * peer's address and priority.
 */
import { canonicalAddress, type Ha, type HaNode } from '../config/index.ts';
import { EngineError } from '../errors.ts';

export function whichNode(ha: Ha, name: string | undefined, addressesOnInterface: readonly string[]): HaNode {
  const nodes = ha.nodes.map((n) => n.name).join(', ');
  if (name) {
    const byName = ha.nodes.find((n) => n.name === name);
    if (!byName) throw new EngineError('HA_NODE_UNKNOWN', { reason: `FULCRUM_HA_NODE is "${name}", which is not a node of this configuration`, nodes });
    return byName;
  }
  const here = new Set(addressesOnInterface.map(canonicalAddress));
  const found = ha.nodes.filter((n) => here.has(canonicalAddress(n.address)));
  if (found.length === 1) return found[0];
  const reason =
    found.length === 0
      ? `no node's address is on ${ha.interface} (${addressesOnInterface.length ? `it has ${addressesOnInterface.join(', ')}` : 'it has no address, or there is no such interface'})`
      : `${found.map((n) => n.address).join(' and ')} are all on ${ha.interface}`;
  throw new EngineError('HA_NODE_UNKNOWN', { reason, nodes });
}
