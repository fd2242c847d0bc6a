/**
 * Keeping the secondary a copy of the primary (bundle.ts has what is sent):
 *
 *   every apply, rollback or user change on the primary ─► kick ─┐
 *   every heartbeat (FULCRUM_HA_HEARTBEAT_MS) on both nodes ──────┴─► ask the peer's status
 *       same version and users ─► note the sync time
 *       differ, this node primary   ─► push its bundle (POST /peer/v1/bundle)
 *       differ, this node secondary ─► ask for the bundle (GET /peer/v1/bundle): "what am I missing"
 *   a failure ─► retried after FULCRUM_HA_RETRY_MS, doubling up to 60 s; audited once per outage, and again when
 *   the peer answers again
 *
 * Only the newest version is sent: a secondary that was away gets the version the primary runs now, not each one
 * in between. The secondary applies bundles one at a time, and one it already runs is only noted.
 */
import { bus, type ConsoleEvent } from '../bus.ts';
import { db } from '../db.ts';
import { ApiError, validationError } from '../errors.ts';
import { mutate } from '../api/mutate.ts';
import { writeAuditAlone, type AuditInput } from '../audit.ts';
import { applyConfig, loadCandidate, runningVersion } from '../config/apply.ts';
import { log } from '../log.ts';
import { BundleSchema, buildBundle, isHashOf, mirrorIntoTx, openBundleConfig, operatorStates, usersHash, type StateRecord } from './bundle.ts';
import { engine } from '../engine.ts';
import { settler } from '../config/settle.ts';
import { heartbeatMs, retryBaseMs, RETRY_MAX_MS } from './identity.ts';
import { BUNDLE_TIMEOUT_MS, expectOk, peerCall } from './peer-client.ts';
import { loadPeer, localStatus, openPairKey, peerView, publishHa, resetPeerView, setPeerView, type NodeStatus, type PeerRow } from './state.ts';
import { newNonce } from './pairing-code.ts';

const peerActor = (peer: PeerRow, sourceAddress: string) => ({
  actor: `peer ${peer.peerName}`,
  actorRole: null,
  sourceAddress,
  requestId: `peer-${newNonce()}`,
});

/** Notes that both nodes run `hash` now (written only when something changed). */
async function recordSync(peer: PeerRow, hash: string | null, isTransfer: boolean): Promise<void> {
  if (!isTransfer && peer.lastSyncHash === hash && !peer.lastSyncError && peer.lastSyncAt) return;
  await db().haPeer.updateMany({ where: { id: 1 }, data: { lastSyncAt: new Date(), lastSyncHash: hash, lastSyncError: null } });
  publishHa('sync');
}

let receiving: Promise<unknown> = Promise.resolve();

/** On the secondary: a bundle pushed by the primary or fetched from it. Answers this node's status afterwards. */
export function receiveBundle(raw: unknown, sourceAddress: string): Promise<NodeStatus> {
  const run = receiving.then(() => receiveOne(raw, sourceAddress));
  receiving = run.catch(() => undefined);
  return run;
}

async function receiveOne(raw: unknown, sourceAddress: string): Promise<NodeStatus> {
  const peer = await loadPeer();
  if (!peer) throw new ApiError('HA_NOT_PAIRED');
  if (peer.role !== 'secondary') throw new ApiError('HA_NOT_SECONDARY');
  const parsed = BundleSchema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error.issues);
  const b = parsed.data;
  let config: ReturnType<typeof openBundleConfig>;
  try {
    config = openBundleConfig(b, openPairKey(peer));
  } catch (e) {
    throw new ApiError('HA_BUNDLE_HASH', { hash: b.version?.hash ?? 'none' }, { reason: (e as Error).message.slice(0, 300) });
  }
  if (config && (!b.version || !isHashOf(config, b.version.hash))) throw new ApiError('HA_BUNDLE_HASH', { hash: b.version?.hash ?? 'none' });
  const running = await runningVersion();
  const isConfigNew = config !== undefined && running?.hash !== b.version!.hash;
  const isUsersNew = (await usersHash()) !== b.usersHash;
  if (isConfigNew || isUsersNew) {
    const who = peerActor(peer, sourceAddress);
    await mutate(
      async (tx) => {
        const counts = await mirrorIntoTx(tx, config, b.users);
        if (isConfigNew) await loadCandidate(tx, config!);
        return counts;
      },
      (counts): AuditInput => ({
        ...who,
        action: 'ha.sync-receive',
        objectType: 'config-version',
        objectId: b.version ? String(b.version.id) : null,
        outcome: 'success',
        before: running ? { version: running.id, hash: running.hash } : null,
        after: { from: peer.peerName, version: b.version?.id ?? null, hash: b.version?.hash ?? null, isConfigNew, ...counts },
        message: `Received ${isConfigNew ? `version ${b.version!.id} of ${peer.peerName}` : 'users'} from ${peer.peerName}.`,
      }),
      { isCandidateChange: isConfigNew },
    );
    if (isConfigNew) {
      // The same ConfigVersion: same configuration, same hash, applied to this node's engine as any apply is.
      const v = b.version!;
      await applyConfig(config!, {
        author: `${peer.peerName} (HA sync)`,
        comment: `HA sync of ${peer.peerName} version ${v.id}${v.comment ? `: ${v.comment}` : ''}`.slice(0, 500),
        action: 'ha.sync-apply',
        audit: (i) => ({ ...i, ...who }),
      });
    }
  }
  const isStatesNew = await followStates(b.states, peer, sourceAddress);
  await recordSync((await loadPeer()) ?? peer, b.version?.hash ?? null, isConfigNew || isUsersNew || isStatesNew);
  return localStatus();
}

/**
 * The primary's operator states onto this node's real servers (those it runs), stored and audited first, then told
 * to the engine outside the transaction; one the engine does not take now is resent by the settler.
 */
async function followStates(states: StateRecord[], peer: PeerRow, sourceAddress: string): Promise<boolean> {
  const mine = new Map((await operatorStates()).map((s) => [`${s.virtualService}/${s.realServer}`, s.state]));
  const changed = states.filter((s) => mine.has(`${s.virtualService}/${s.realServer}`) && mine.get(`${s.virtualService}/${s.realServer}`) !== s.state);
  if (!changed.length) return false;
  await mutate(
    async (tx) => {
      for (const s of changed)
        await tx.realServer.updateMany({ where: { name: s.realServer, virtualService: { name: s.virtualService } }, data: { state: s.state } });
    },
    () => ({
      ...peerActor(peer, sourceAddress),
      action: 'ha.sync-state',
      objectType: 'real-server',
      objectId: null,
      outcome: 'success',
      after: { from: peer.peerName, states: changed },
      message: `Followed ${peer.peerName}: ${changed.map((s) => `${s.virtualService}/${s.realServer} ${s.state}`).join(', ')}.`,
    }),
    { isCandidateChange: false },
  );
  for (const s of changed) {
    await engine()
      .setServerState(s.virtualService, s.realServer, s.state)
      .catch((e) => {
        log('warn', 'server state from the HA peer not taken by the engine now', { realServer: s.realServer, error: (e as Error).message });
        settler().kick();
      });
  }
  return true;
}

const SYNC_ACTIONS = /^(config\.(apply|rollback)|ha\.sync-apply|real-server\.state|user\.|api-key\.|setup\.)/;

/** The loop on both nodes: heartbeat, push or pull, retries with backoff. One per process (start() is idempotent). */
export class SyncWorker {
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private isBusy = false;
  private isAgain = false;
  private isClosed = false;
  private outage: string | undefined;
  private readonly onEvent = (e: ConsoleEvent) => {
    if (e.type === 'audit' && e.outcome === 'success' && SYNC_ACTIONS.test(e.action)) this.kick();
    if (e.type === 'ha' && e.what === 'pairing') this.kick();
  };

  start(): void {
    bus().on('event', this.onEvent);
    this.schedule(0);
  }

  /** Sync now (an apply happened, or the pair changed); resets the backoff. */
  kick(): void {
    this.failures = 0;
    if (this.isBusy) this.isAgain = true;
    else this.schedule(0);
  }

  /** Runs one round now and answers when it is done (tests, and the HA page's "sync now"). */
  async runOnce(): Promise<void> {
    await this.round();
  }

  private schedule(ms: number): void {
    if (this.isClosed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    if (this.isBusy) {
      this.isAgain = true;
      return;
    }
    const wait = await this.round();
    if (this.isAgain) {
      this.isAgain = false;
      this.schedule(0);
    } else this.schedule(wait);
  }

  /** One round; answers how long to wait before the next. */
  private async round(): Promise<number> {
    this.isBusy = true;
    try {
      await this.syncOnce();
      this.failures = 0;
      return heartbeatMs();
    } catch (e) {
      this.failures++;
      await this.noteFailure(e).catch((err) => log('error', 'could not record an HA sync failure', { error: (err as Error).message }));
      return Math.min(retryBaseMs() * 2 ** (this.failures - 1), RETRY_MAX_MS);
    } finally {
      this.isBusy = false;
    }
  }

  private async syncOnce(): Promise<void> {
    const peer = await loadPeer();
    if (!peer) {
      resetPeerView();
      this.outage = undefined;
      return;
    }
    let status: NodeStatus;
    try {
      status = expectOk(peer.peerUrl, await peerCall<NodeStatus>({ url: peer.peerUrl, pin: peer.peerFingerprint, method: 'GET', path: '/peer/v1/status' }));
    } catch (e) {
      setPeerView({
        ...peerView(),
        error: { code: (e as ApiError).code ?? 'HA_PEER_UNREACHABLE', message: (e as Error).message, at: new Date().toISOString() },
      });
      throw e;
    }
    setPeerView({ status, seenAt: new Date().toISOString() });
    const local = await localStatus();
    const isSame =
      (status.running?.hash ?? null) === (local.running?.hash ?? null) && status.usersHash === local.usersHash && status.statesHash === local.statesHash;
    if (this.outage) await this.noteRecovery(peer);
    if (isSame) return recordSync(peer, local.running?.hash ?? null, false);
    if (peer.role === 'primary') await this.push(peer);
    else await this.pull(peer);
  }

  private async push(peer: PeerRow): Promise<void> {
    const bundle = await buildBundle(peer.localName, openPairKey(peer));
    const answer = expectOk(
      peer.peerUrl,
      await peerCall<NodeStatus>({
        url: peer.peerUrl,
        pin: peer.peerFingerprint,
        method: 'POST',
        path: '/peer/v1/bundle',
        body: bundle,
        timeoutMs: BUNDLE_TIMEOUT_MS,
      }),
    );
    setPeerView({ status: answer, seenAt: new Date().toISOString() });
    await writeAuditAlone({
      actor: 'ha sync',
      actorRole: null,
      sourceAddress: 'local',
      requestId: `ha-${newNonce()}`,
      action: 'ha.sync-push',
      objectType: 'config-version',
      objectId: bundle.version ? String(bundle.version.id) : null,
      outcome: 'success',
      after: {
        to: peer.peerName,
        version: bundle.version?.id ?? null,
        hash: bundle.version?.hash ?? null,
        users: bundle.users.length,
        peerRuns: answer.running?.hash ?? null,
      },
      message: `Sent ${bundle.version ? `version ${bundle.version.id}` : 'users'} to ${peer.peerName}.`,
    });
    await recordSync(peer, bundle.version?.hash ?? null, true);
  }

  private async pull(peer: PeerRow): Promise<void> {
    const bundle = expectOk(
      peer.peerUrl,
      await peerCall({ url: peer.peerUrl, pin: peer.peerFingerprint, method: 'GET', path: '/peer/v1/bundle', timeoutMs: BUNDLE_TIMEOUT_MS }),
    );
    await receiveBundle(bundle, peer.peerUrl);
  }

  private async noteFailure(e: unknown): Promise<void> {
    const peer = await loadPeer();
    if (!peer) return;
    const message = (e as Error).message;
    if (peer.lastSyncError !== message) {
      await db().haPeer.updateMany({ where: { id: 1 }, data: { lastSyncError: message } });
      publishHa('sync');
    }
    if (this.outage) return;
    this.outage = message;
    log('warn', `HA sync with ${peer.peerName} failed; retrying with backoff`, { error: message });
    await writeAuditAlone({
      actor: 'ha sync',
      actorRole: null,
      sourceAddress: 'local',
      requestId: `ha-${newNonce()}`,
      action: peer.role === 'primary' ? 'ha.sync-push' : 'ha.sync-pull',
      objectType: 'ha-pair',
      objectId: '1',
      outcome: 'failed',
      after: { peer: peer.peerName, code: (e as ApiError).code ?? null },
      message,
    });
  }

  private async noteRecovery(peer: PeerRow): Promise<void> {
    const was = this.outage;
    this.outage = undefined;
    log('info', `${peer.peerName} answers the peer link again`);
    await writeAuditAlone({
      actor: 'ha sync',
      actorRole: null,
      sourceAddress: 'local',
      requestId: `ha-${newNonce()}`,
      action: 'ha.peer-link',
      objectType: 'ha-pair',
      objectId: '1',
      outcome: 'success',
      after: { peer: peer.peerName },
      message: `${peer.peerName} answers again (it had failed: ${was}).`,
    });
  }

  close(): void {
    this.isClosed = true;
    clearTimeout(this.timer);
    bus().off('event', this.onEvent);
  }
}

const g = globalThis as unknown as { __fulcrumHaSync?: SyncWorker };
export const syncWorker = (): SyncWorker => (g.__fulcrumHaSync ??= new SyncWorker());
