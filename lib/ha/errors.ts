/**
 * The HA pair's errors (lib/ha/): one row per failure, merged into the console's one table (lib/errors.ts). The
 * sentences say which node to use or what to do next, because the person reading them is mid-maintenance.
 */
import type { ErrorDef } from '../../engine/errors.ts';

export const HA_ERRORS = {
  HA_SECONDARY_READ_ONLY: { status: 409, message: 'This node is the secondary of the pair; make changes on {primary} ({url}).' },
  HA_NOT_PAIRED: { status: 409, message: 'This node is not paired with another console; pair it on the HA page first.' },
  HA_ALREADY_PAIRED: { status: 409, message: 'This node is already paired with {peer} as its {role}; unpair it first.' },
  HA_NOT_SECONDARY: { status: 409, message: 'This node is the primary of the pair: it takes configuration from no one.' },
  HA_NOT_PRIMARY: { status: 409, message: 'This node is the secondary of the pair: only the primary ({primary}) sends configuration.' },
  HA_PAIRING_CODE_INVALID: {
    status: 403,
    message: "The pairing code is not right; read it again from the primary's HA page (a code is good once, for {minutes} minutes).",
  },
  HA_PAIRING_CODE_EXPIRED: { status: 403, message: "This pairing code expired at {at}; make a new one on the primary's HA page." },
  HA_PAIRING_CODE_USED: { status: 403, message: "This pairing code was already used at {at}; make a new one on the primary's HA page." },
  HA_PAIRING_PROOF: {
    status: 403,
    message:
      'The node at {url} did not prove it knows the pairing code, so it is not the primary that showed it (a wrong address, or something between the two nodes); nothing was paired. Check the address and try again.',
  },
  HA_PEER_CERT_REQUIRED: { status: 401, message: "The peer link takes mutual TLS: present the console's certificate." },
  HA_PEER_UNKNOWN: { status: 403, message: 'This node is not paired with the certificate {fingerprint}; pair the nodes again from the HA page.' },
  HA_PEER_NOT_PINNED: {
    status: 502,
    message:
      'The peer at {url} presented a certificate ({fingerprint}) that is not the one pinned at pairing; nothing was sent. If the peer was rebuilt, unpair and pair again.',
  },
  HA_PEER_UNREACHABLE: { status: 502, message: 'The peer at {url} did not answer: {reason}.' },
  HA_PEER_REFUSED: { status: 502, message: 'The peer at {url} refused: {reason}' },
  HA_PEER_URL: { status: 422, message: 'The peer address must be https://host:port (the peer link, port 9444 by default), not "{url}".' },
  HA_BUNDLE_HASH: { status: 422, message: 'The configuration received does not match its hash {hash}; nothing was applied.' },
  HA_NOT_CONFIGURED: {
    status: 409,
    message: 'The running configuration has no HA block, so keepalived does not run on this node and there are no addresses to hand over.',
  },
  HA_HANDOVER_NOT_ACTIVE: { status: 409, message: 'This node is {role}, not the active node: it holds no virtual IPs to hand over.' },
} as const satisfies Record<string, ErrorDef>;
