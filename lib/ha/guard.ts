/**
 * Only the primary's console accepts edits (ARCHITECTURE.md, HA). The route wrapper asks this before every
 * mutation, after the caller is known, so the refusal is audited with who asked. A secondary still takes logins and
 * logouts, and its own HA actions (unpair, hand-over), which are not configuration.
 */
import { ApiError } from '../errors.ts';
import { loadPeer } from './state.ts';

const ALLOWED_ON_SECONDARY = new Set(['session.login', 'session.logout', 'setup.complete']);

export async function refuseOnSecondary(route: { tag: string; action: string }): Promise<void> {
  if (route.tag === 'ha' || ALLOWED_ON_SECONDARY.has(route.action)) return;
  const peer = await loadPeer();
  if (peer?.role !== 'secondary') return;
  throw new ApiError(
    'HA_SECONDARY_READ_ONLY',
    { primary: peer.peerName, url: peer.peerConsoleUrl },
    { primary: { name: peer.peerName, url: peer.peerConsoleUrl } },
  );
}
