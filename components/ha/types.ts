/** The shapes GET /api/v1/ha answers (lib/api/routes/ha.ts). */
export interface VrrpView {
  role: 'master' | 'backup' | 'fault' | 'stopped';
  node?: string;
  instances: { name: string; state: string; since: string; priority?: number; addresses: { address: string; isHeld: boolean }[] }[];
  error?: { code: string; message: string };
  standby?: { since: string; by: string; reason: string } | null;
}

export interface NodeStatus {
  name: string;
  role: 'primary' | 'secondary' | 'unpaired';
  running: { version: number; hash: string; at: string } | null;
  usersHash: string;
  statesHash: string;
  engine: { isReachable: boolean; ha: VrrpView | null };
  lastSyncAt: string | null;
  at: string;
}

export interface HandoverState {
  state: 'handing-over' | 'done' | 'timed-out' | 'ended';
  by: string;
  reason: string;
  startedAt: string;
  doneAt?: string;
  progress: string;
}

export interface HaView {
  local: NodeStatus & { fingerprint: string };
  pair: null | {
    role: 'primary' | 'secondary';
    peerName: string;
    peerUrl: string;
    peerConsoleUrl: string;
    peerFingerprint: string;
    pairedAt: string;
    lastSyncAt: string | null;
    lastSyncHash: string | null;
    lastSyncError: string | null;
  };
  peer: null | { status: NodeStatus | null; seenAt: string | null; error: { code: string; message: string; at: string } | null };
  isInSync: boolean | null;
  warnings: string[];
  handover: HandoverState | null;
  pairingCodeMinutes: number;
}

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'medium' }) : 'never');
