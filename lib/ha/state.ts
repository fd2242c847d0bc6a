/**
 * The pair as this node knows it: the stored peer (HaPeer, id 1), this node's own status (what it answers on
 * GET /peer/v1/status and shows on its HA page), and the last status heard from the peer (kept in memory: it is
 * live, re-asked every heartbeat, and a restart asks again at once).
 */
import { db } from '../db.ts';
import { engine } from '../engine.ts';
import { publish } from '../bus.ts';
import { runningVersion } from '../config/apply.ts';
import { secretKey, seal, open } from '../../engine/secrets.ts';
import { consoleEnv } from '../env.ts';
import { nodeName } from './identity.ts';
import { statesHash, usersHash } from './bundle.ts';

export type PairRole = 'primary' | 'secondary';

export async function loadPeer() {
  return db().haPeer.findUnique({ where: { id: 1 } });
}
export type PeerRow = NonNullable<Awaited<ReturnType<typeof loadPeer>>>;

const PAIR_KEY_CONTEXT = 'ha:pair-key';
export const sealPairKey = (raw: Buffer) => seal(secretKey(consoleEnv().dataDir), raw.toString('base64'), PAIR_KEY_CONTEXT);
export const openPairKey = (peer: PeerRow) => Buffer.from(open(secretKey(consoleEnv().dataDir), peer.pairKey, PAIR_KEY_CONTEXT), 'base64');

/** What the engine says about VRRP on this node, reduced to what the peer and the HA page need. */
export interface VrrpView {
  role: 'master' | 'backup' | 'fault' | 'stopped';
  node?: string;
  instances: { name: string; state: string; since: string; priority?: number; addresses: { address: string; isHeld: boolean }[] }[];
  error?: { code: string; message: string };
  standby?: { since: string; by: string; reason: string } | null;
}

export interface NodeStatus {
  name: string;
  role: PairRole | 'unpaired';
  running: { version: number; hash: string; at: string } | null;
  usersHash: string;
  statesHash: string;
  engine: { isReachable: boolean; ha: VrrpView | null };
  lastSyncAt: string | null;
  at: string;
}

export async function localStatus(): Promise<NodeStatus> {
  const [peer, running, users, states] = await Promise.all([loadPeer(), runningVersion(), usersHash(), statesHash()]);
  let isReachable = false;
  let ha: VrrpView | null = null;
  try {
    const st = await engine().status();
    isReachable = true;
    const h = st.ha as (typeof st.ha & { standby?: VrrpView['standby'] }) | undefined;
    if (h) {
      ha = {
        role: h.role,
        ...(h.node ? { node: h.node } : {}),
        instances: h.instances.map((i) => ({
          name: i.name,
          state: i.state,
          since: i.since,
          ...(i.priority !== undefined ? { priority: i.priority } : {}),
          addresses: i.addresses.map((a) => ({ address: a.address, isHeld: a.isHeld })),
        })),
        ...(h.error ? { error: h.error } : {}),
        standby: h.standby ?? null,
      };
    }
  } catch {
    // unreachable: said so
  }
  return {
    name: peer?.localName ?? nodeName(),
    role: (peer?.role as PairRole | undefined) ?? 'unpaired',
    running: running ? { version: running.id, hash: running.hash, at: running.createdAt.toISOString() } : null,
    usersHash: users,
    statesHash: states,
    engine: { isReachable, ha },
    lastSyncAt: peer?.lastSyncAt?.toISOString() ?? null,
    at: new Date().toISOString(),
  };
}

/** The peer as last heard on the peer link. */
export interface PeerView {
  status?: NodeStatus;
  seenAt?: string;
  error?: { code: string; message: string; at: string };
}

const g = globalThis as unknown as { __fulcrumPeerView?: PeerView };
export const peerView = (): PeerView => g.__fulcrumPeerView ?? {};

export function setPeerView(v: PeerView): void {
  const before = JSON.stringify({ ...g.__fulcrumPeerView?.status, at: undefined }) + (g.__fulcrumPeerView?.error?.code ?? '');
  g.__fulcrumPeerView = v;
  const after = JSON.stringify({ ...v.status, at: undefined }) + (v.error?.code ?? '');
  if (before !== after) publishHa('peer');
}

export const resetPeerView = () => void (g.__fulcrumPeerView = undefined);

/** Tells open HA pages to read the status again (lib/live.ts relays it). */
export function publishHa(what: 'peer' | 'sync' | 'pairing' | 'handover'): void {
  publish({ type: 'ha', at: new Date().toISOString(), what });
}

/** What differs between the two nodes, in sentences for the HA page (empty: they agree). */
export function pairWarnings(local: NodeStatus, peer: PeerView, peerRow: PeerRow | null): string[] {
  if (!peerRow) return [];
  const w: string[] = [];
  const p = peer.status;
  const utc = (iso: string) => `${iso.replace('T', ' ').slice(0, 19)} UTC`;
  if (peer.error) w.push(`${peerRow.peerName} has not answered ${peer.seenAt ? `since ${utc(peer.seenAt)}` : 'since pairing'}: ${peer.error.message}`);
  if (!p) return w;
  if ((p.running?.hash ?? null) !== (local.running?.hash ?? null)) {
    const v = (s: NodeStatus) => (s.running ? `version ${s.running.version} (${s.running.hash.slice(0, 12)})` : 'no configuration');
    w.push(`The nodes run different configurations: ${local.name} runs ${v(local)}, ${p.name} runs ${v(p)}.`);
  }
  if (p.running?.hash === local.running?.hash && p.statesHash !== local.statesHash)
    w.push('The nodes differ in which real servers are drained or halted; the secondary follows the primary at the next sync.');
  if (p.usersHash !== local.usersHash)
    w.push(
      `The nodes have different users or API keys; ${peerRow.role === 'primary' ? 'they are sent to' : 'they come from'} ${peerRow.role === 'primary' ? p.name : peerRow.peerName} at the next sync.`,
    );
  if (p.role === peerRow.role) w.push(`Both nodes say they are the ${p.role}: pair them again.`);
  if (p.role === 'unpaired') w.push(`${p.name} no longer knows this pair: pair the nodes again.`);
  if (local.engine.ha?.role === 'master' && p.engine.ha?.role === 'master')
    w.push('Both nodes are VRRP master: both hold the virtual IPs (split brain). Check the HA link between them.');
  if (!p.engine.isReachable) w.push(`The engine on ${p.name} does not answer its console.`);
  return w;
}
