/**
 * "Move the service to the peer": a planned hand-over for maintenance of this node. The console tells its engine to
 * stand by (PUT /v1/ha/standby), which makes keepalived's track script fail here, so keepalived moves this node's
 * instances to FAULT: it drops the virtual IPs and stops advertising, and the peer — whose adverts now win — takes
 * them within about three advert intervals, sending its gratuitous ARPs. The connection sync daemon carries the
 * layer 4 connections over. The node stays standing by until someone ends it ("end standby"); with nopreempt (the
 * default) it then waits as the backup.
 *
 * The hand-over is reported done when this node holds none of the moving addresses and the peer says it is VRRP
 * master (asked every WATCH_MS on the peer link), or timed out after WATCH_LIMIT_MS. Audited here and, by a notice
 * on the peer link, on the peer.
 */
import { engine } from '../engine.ts';
import { ApiError } from '../errors.ts';
import { writeAuditAlone, type AuditInput } from '../audit.ts';
import { log } from '../log.ts';
import { expectOk, peerCall } from './peer-client.ts';
import { loadPeer, publishHa, type NodeStatus, type PeerRow } from './state.ts';

const WATCH_MS = 500;
const WATCH_LIMIT_MS = 30_000;

type AuditFor = (input: Omit<AuditInput, 'actor' | 'actorRole' | 'sourceAddress' | 'requestId'>) => AuditInput;

export interface HandoverState {
  state: 'handing-over' | 'done' | 'timed-out' | 'ended';
  by: string;
  reason: string;
  startedAt: string;
  doneAt?: string;
  /** What the last look found, in words. */
  progress: string;
}

const g = globalThis as unknown as { __fulcrumHandover?: HandoverState; __fulcrumHandoverTimer?: NodeJS.Timeout };
export const handoverState = (): HandoverState | null => g.__fulcrumHandover ?? null;

function setState(s: HandoverState): void {
  g.__fulcrumHandover = s;
  publishHa('handover');
}

async function notifyPeer(peer: PeerRow | null, action: 'ha.handover' | 'ha.handover-end', actor: string, message: string): Promise<boolean> {
  if (!peer) return false;
  return peerCall({ url: peer.peerUrl, pin: peer.peerFingerprint, method: 'POST', path: '/peer/v1/notice', body: { action, actor, message } }).then(
    (a) => a.status < 300,
    () => false,
  );
}

export async function handOver(opts: { actor: string; reason: string; audit: AuditFor }): Promise<HandoverState> {
  const st = await engine().status();
  if (!st.ha?.isEnabled) throw new ApiError('HA_NOT_CONFIGURED');
  if (st.ha.role !== 'master') throw new ApiError('HA_HANDOVER_NOT_ACTIVE', { role: st.ha.role });
  const peer = await loadPeer();
  await engine().setHaStandby({ by: opts.actor, reason: opts.reason });
  const addresses = st.ha.instances.flatMap((i) => i.addresses.filter((a) => a.isHeld).map((a) => a.address));
  const message = `Handing the service to ${peer?.peerName ?? 'the peer'}: ${opts.reason}`;
  await writeAuditAlone(
    opts.audit({
      action: 'ha.handover',
      objectType: 'ha-pair',
      objectId: st.ha.node ?? null,
      outcome: 'success',
      before: { role: st.ha.role, addresses },
      after: { standby: true, reason: opts.reason },
      message,
    }),
  );
  const isPeerTold = await notifyPeer(peer, 'ha.handover', opts.actor, message);
  setState({
    state: 'handing-over',
    by: opts.actor,
    reason: opts.reason,
    startedAt: new Date().toISOString(),
    progress: `Standing by; waiting for ${peer?.peerName ?? 'the peer'} to take ${addresses.join(', ') || 'the addresses'}.${isPeerTold ? '' : ' (The peer console could not be told.)'}`,
  });
  watch(peer, Date.now());
  return handoverState()!;
}

/** Looks every WATCH_MS until the peer holds the addresses (or the limit passes). */
function watch(peer: PeerRow | null, startedAt: number): void {
  clearTimeout(g.__fulcrumHandoverTimer);
  const look = async () => {
    const s = handoverState();
    if (!s || s.state !== 'handing-over') return;
    const local = await engine()
      .status()
      .catch(() => undefined);
    const held = local?.ha?.instances.flatMap((i) => i.addresses.filter((a) => a.isHeld).map((a) => a.address)) ?? [];
    const p = peer
      ? await peerCall<NodeStatus>({ url: peer.peerUrl, pin: peer.peerFingerprint, method: 'GET', path: '/peer/v1/status' }).then(
          (a) => expectOk(peer.peerUrl, a),
          () => undefined,
        )
      : undefined;
    const peerRole = p?.engine.ha?.role;
    if (held.length === 0 && peerRole === 'master') {
      setState({
        ...s,
        state: 'done',
        doneAt: new Date().toISOString(),
        progress: `${p!.name} holds the service (VRRP master); this node holds no virtual IPs and stands by.`,
      });
      log('info', 'hand-over done: the peer holds the service');
      return;
    }
    const progress = `This node ${held.length ? `still holds ${held.join(', ')}` : 'holds no virtual IPs'}; ${peer?.peerName ?? 'the peer'} is ${peerRole ?? (p ? 'not running HA' : 'not answering')}.`;
    if (Date.now() - startedAt > WATCH_LIMIT_MS) {
      setState({ ...s, state: 'timed-out', progress: `After ${WATCH_LIMIT_MS / 1000} s: ${progress} Check the peer's HA page and keepalived.` });
      return;
    }
    if (progress !== s.progress) setState({ ...s, progress });
    g.__fulcrumHandoverTimer = setTimeout(() => void look().catch(() => undefined), WATCH_MS);
    g.__fulcrumHandoverTimer.unref?.();
  };
  g.__fulcrumHandoverTimer = setTimeout(() => void look().catch(() => undefined), WATCH_MS);
  g.__fulcrumHandoverTimer.unref?.();
}

/** Ends standing by: the track script passes again and this node becomes a backup (or master again, if it preempts). */
export async function endStandby(opts: { actor: string; audit: AuditFor }): Promise<HandoverState | null> {
  const { standby } = await engine().setHaStandby(null);
  clearTimeout(g.__fulcrumHandoverTimer);
  const s = handoverState();
  await writeAuditAlone(
    opts.audit({
      action: 'ha.handover-end',
      objectType: 'ha-pair',
      objectId: null,
      outcome: 'success',
      after: { standby: standby !== null },
      message: 'Standby ended: this node may be active again.',
    }),
  );
  await notifyPeer(await loadPeer(), 'ha.handover-end', opts.actor, 'ended standing by');
  if (s)
    setState({
      ...s,
      state: 'ended',
      doneAt: new Date().toISOString(),
      progress: 'Standby ended: this node is a backup again (it takes the service back only if the pair preempts).',
    });
  return handoverState();
}
