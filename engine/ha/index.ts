/**
 * High availability: keepalived decides which node is active; the engine renders its configuration, supervises it,
 * and follows its state (ARCHITECTURE.md). The engine calls apply() with every configuration it programs, before
 * its data planes (so ip_nonlocal_bind is set before layer 7 binds a VIP this node does not hold, and keepalived is
 * stopped before layer 4 takes back addresses that no longer move), status() for its status, close() on close.
 *
 *   apply(config) ── whichNode ── render ── write if changed ── start keepalived | SIGHUP | nothing
 *   keepalived ── notify FIFO ── instance states ── role ── IPVS sync daemon (master | backup) + 'ha' events
 *
 *   role (all instances)   sync daemon      addresses (keepalived's)
 *   every one MASTER       master           held
 *   one FAULT              backup           released
 *   otherwise              backup           released
 *   keepalived not running backup           released (the engine removes them if keepalived died holding them)
 *
 * apply() never throws: what stops HA from working (an unknown node, no keepalived, no IPVS for the sync daemon)
 * is in status().error and the log, as layer 4 reports a kernel without IPVS.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config, HaNode } from '../config/index.ts';
import type { HaEvent, HaStatus, VrrpStateName } from '../api-types.ts';
import { EngineError } from '../errors.ts';
import { canonical } from '../l4/addr.ts';
import { ensureSysctls, readSysctl, reconcileVips } from '../l4/host.ts';
import { LatestRead } from '../latest-read.ts';
import { haInterfaceGroups, haSysctls, type HaAddress } from './addresses.ts';
import { NotifyFifo, type NotifyLine } from './notify.ts';
import { whichNode } from './node.ts';
import { instanceName, renderKeepalivedConf } from './render.ts';
import { KeepalivedSupervisor, type Log, type SupervisorOptions } from './supervisor.ts';
import { SyncDaemonFollower, type SyncPort, type SyncWanted } from './sync-daemon.ts';
import { helperInterfaceAddresses, openIpvsProcess } from '../l4/ipvs-process.ts';
import { SerialQueue } from '../serial.ts';
import { StickReplicator, stickSyncPort } from './stick-sync.ts';
import type { StickEntry } from '../l7/persistence.ts';

export { dataPlaneProblems } from './check.ts';

export interface HaOptions {
  dataDir: string;
  log: Log;
  onEvent: (e: HaEvent) => void;
  /** The socket the track script asks; default as engine/daemon/main.ts: FULCRUM_ENGINE_SOCKET or <data dir>/engine.sock. */
  socketPath?: string;
  /** This node's name; default FULCRUM_HA_NODE, else found by address (node.ts). */
  nodeName?: string;
  keepalived?: string;
  curl?: string;
  backoff?: SupervisorOptions['backoff'];
  /** Tests stand in for the kernel with these. */
  openIpvs?: () => Promise<SyncPort>;
  localAddresses?: () => Promise<Map<string, string[]>>;
  releaseAddresses?: (addresses: readonly HaAddress[]) => Promise<void>;
  /** Layer 7 stick-table entries from the peer (stick-sync.ts) go here: the layer 7 data plane's mergeStick. */
  onStickEntry?: (table: string, key: string, entry: StickEntry) => void;
  /** Every entry the layer 7 data plane holds, for a peer that joins and asks for them all. */
  stickEntries?: () => Iterable<[string, string, StickEntry]>;
}

interface Group {
  name: string;
  interface: string;
  virtualRouterId: number;
  addresses: HaAddress[];
}

type Err = { code: string; message: string };
const errOf = (e: unknown): Err => ({ code: (e as EngineError).code ?? 'ENGINE_INTERNAL', message: (e as Error).message });

export class HaManager {
  readonly confPath: string;
  private ha: Config['ha'];
  private node: HaNode | undefined;
  private groups: Group[] = [];
  private readonly states = new Map<string, { state: VrrpStateName; since: string; priority?: number }>();
  private role: HaStatus['role'] = 'stopped';
  private error: Err | undefined;
  private isClosing = false;
  private readonly queue = new SerialQueue();
  private readonly supervisor: KeepalivedSupervisor;
  private readonly fifo: NotifyFifo;
  private readonly sync: SyncDaemonFollower;
  private readonly local: () => Promise<Map<string, string[]>>;
  private readonly release: (a: readonly HaAddress[]) => Promise<void>;
  private stick: StickReplicator | undefined;
  private stickError: Err | undefined;

  constructor(private readonly opts: HaOptions) {
    const at = (f: string) => path.join(opts.dataDir, f);
    this.confPath = at('keepalived.conf');
    // Read by the IPVS helper process, at most every half second for a status (the test polls every 100 ms).
    const addresses = new LatestRead(opts.localAddresses ?? helperInterfaceAddresses, 1000, 500);
    this.local = async () => (await addresses.get()).value;
    this.release = opts.releaseAddresses ?? (async (a) => void (await reconcileVips([], a)));
    this.fifo = new NotifyFifo(
      at('ha-notify.fifo'),
      (l) => this.onNotify(l),
      (text) => opts.log('info', `keepalived notify: ${text}`),
    );
    this.sync = new SyncDaemonFollower(opts.openIpvs ?? openIpvsProcess, at('ha-sync.json'), opts.log);
    this.supervisor = new KeepalivedSupervisor({
      binary: opts.keepalived ?? process.env.FULCRUM_KEEPALIVED ?? '/usr/sbin/keepalived',
      confPath: this.confPath,
      pidPath: at('keepalived.pid'),
      vrrpPidPath: at('keepalived-vrrp.pid'),
      log: opts.log,
      backoff: opts.backoff,
      onChange: (e) => this.onKeepalived(e),
    });
  }

  apply(config: Config): Promise<void> {
    return this.queue
      .run(() => this.doApply(config))
      .catch((e) => {
        this.error = errOf(e);
        this.opts.log('error', 'high availability not applied', { error: (e as Error).stack });
      });
  }

  private async doApply(config: Config): Promise<void> {
    this.ha = config.ha;
    if (!config.ha?.isEnabled) return this.disable();
    const ha = config.ha;
    this.error = undefined;
    for (const s of ensureSysctls(haSysctls(config))) {
      if (s.wasChanged) this.opts.log('info', `sysctl ${s.path.replace(/\//g, '.')} set to ${s.value}`);
      if (s.error)
        this.error ??= {
          code: 'IPVS_KERNEL',
          message: new EngineError('IPVS_KERNEL', { operation: `setting ${s.path.replace(/\//g, '.')}=${s.value}`, errno: s.error }).message,
        };
    }
    try {
      this.node = whichNode(ha, this.opts.nodeName ?? process.env.FULCRUM_HA_NODE, (await this.local()).get(ha.interface) ?? []);
    } catch (e) {
      this.node = undefined;
      this.error = errOf(e);
      this.opts.log('error', this.error.message);
      await this.closeStickSync();
      return this.stopKeepalived();
    }
    await this.followStickSync(ha.nodes.filter((n) => n.name !== this.node!.name).map((n) => n.address));
    this.groups = haInterfaceGroups(config).map((g, i) => ({
      name: instanceName(g.interface),
      interface: g.interface,
      virtualRouterId: ha.virtualRouterId + i,
      addresses: g.addresses,
    }));
    const socket = this.opts.socketPath ?? process.env.FULCRUM_ENGINE_SOCKET ?? path.join(this.opts.dataDir, 'engine.sock');
    const checkCommand = [
      this.opts.curl ?? '/usr/bin/curl',
      '--silent',
      '--fail',
      '--max-time',
      '3',
      '--unix-socket',
      socket,
      'http://fulcrum-engine/v1/ha/check',
    ];
    const text = renderKeepalivedConf({ ha, node: this.node, groups: this.groups, fifoPath: this.fifo.path, checkCommand });
    for (const name of this.states.keys()) if (!this.groups.some((g) => g.name === name)) this.states.delete(name);
    for (const g of this.groups) if (!this.states.has(g.name)) this.states.set(g.name, { state: 'INIT', since: new Date().toISOString() });
    this.fifo.open();
    const isChanged = writeIfChanged(this.confPath, text);
    if (!this.supervisor.isRunning) await this.supervisor.start();
    else if (isChanged) {
      this.supervisor.reload();
      this.opts.log('info', 'keepalived reloaded: its configuration changed');
      this.emit({ kind: 'keepalived', state: 'reloaded', message: 'keepalived re-read its configuration (SIGHUP).' });
    }
    await this.followSync();
  }

  private async disable(): Promise<void> {
    await this.stopKeepalived();
    this.fifo.close();
    await this.closeStickSync();
    this.node = undefined;
    this.groups = [];
    this.states.clear();
    this.error = undefined;
    await this.sync.follow('off');
  }

  private async stopKeepalived(): Promise<void> {
    if (!this.supervisor.isRunning && !this.supervisor.status().nextStartAt) return;
    await this.supervisor.stop();
    this.role = 'stopped';
  }

  /** The stick-table link to the peers, bound to this node's address; rebound only when the address or peers change. */
  private async followStickSync(peers: string[]): Promise<void> {
    if (!this.opts.onStickEntry || this.stick?.isFor(this.node!.address, peers)) return;
    await this.closeStickSync();
    try {
      this.stick = await StickReplicator.open({
        address: this.node!.address,
        peers,
        log: this.opts.log,
        onEntry: this.opts.onStickEntry,
        ...(this.opts.stickEntries ? { entries: this.opts.stickEntries } : {}),
      });
      this.stickError = undefined;
    } catch (e) {
      this.stickError = errOf(
        new EngineError(
          'HA_STICK_SYNC_FAILED',
          { endpoint: `${this.node!.address}:${stickSyncPort()}`, reason: (e as NodeJS.ErrnoException).code ?? (e as Error).message },
          undefined,
          { cause: e },
        ),
      );
      this.opts.log('error', this.stickError.message);
    }
  }

  private async closeStickSync(): Promise<void> {
    const s = this.stick;
    this.stick = undefined;
    this.stickError = undefined;
    await s?.close();
  }

  /** A layer 7 stick-table entry made or refreshed on this node: sent to the peers (nothing while HA is off). */
  replicateStick(table: string, key: string, entry: StickEntry): void {
    this.stick?.send(table, key, entry);
  }

  /** One line from the FIFO: the instance's new state, an event, and the sync daemon follows the role. */
  private onNotify(l: NotifyLine): void {
    // Sync group lines repeat their instances' news; an instance no longer configured (DELETED by a reload) is gone.
    if (l.kind !== 'INSTANCE' || !this.groups.some((g) => g.name === l.name)) return;
    const was = this.states.get(l.name);
    // The same state again is no transition: a stale keepalived the engine stops writes STOP after the engine has
    // already recorded its instances as stopped, and a priority change alone is not a state change either.
    if (was?.state === l.state) {
      this.states.set(l.name, { ...was, priority: l.priority ?? was.priority });
      return;
    }
    this.states.set(l.name, { state: l.state, since: new Date().toISOString(), priority: l.priority });
    const message = `VRRP instance ${l.name} is ${l.state}${was ? ` (was ${was.state})` : ''}${l.priority !== undefined ? `, priority ${l.priority}` : ''}.`;
    this.opts.log(l.state === 'FAULT' ? 'warn' : 'info', message);
    this.emit({ kind: 'vrrp', instance: l.name, state: l.state, previous: was?.state, message });
    void this.followSync();
  }

  private onKeepalived(e: Parameters<NonNullable<SupervisorOptions['onChange']>>[0]): void {
    if (e.kind === 'started') {
      this.emit({ kind: 'keepalived', state: 'started', message: `keepalived started (pid ${e.pid}).` });
      return;
    }
    // Its instances stop with it, whether or not its last FIFO lines (STOP) arrive: a SIGKILLed keepalived writes none.
    for (const [name, s] of this.states) {
      if (s.state === 'STOP') continue;
      this.states.set(name, { state: 'STOP', since: new Date().toISOString() });
      this.emit({
        kind: 'vrrp',
        instance: name,
        state: 'STOP',
        previous: s.state,
        message: `VRRP instance ${name} is STOP (was ${s.state}): keepalived is not running.`,
      });
    }
    this.emit({
      kind: 'keepalived',
      state: 'exited',
      message: `keepalived exited (${e.reason})${e.restartInMs !== undefined ? `; starting it again in ${e.restartInMs} ms` : ''}.`,
    });
    if (e.restartInMs === undefined || this.isClosing) return;
    // Died unexpectedly. SIGKILLed, it leaves its addresses behind while the peer takes them: remove them now
    // rather than when it starts again (keepalived removes them at start, too).
    const addresses = this.groups.flatMap((g) => g.addresses);
    void this.release(addresses).catch((err) =>
      this.opts.log('error', 'could not remove the addresses of a dead keepalived', { error: (err as Error).message }),
    );
    void this.followSync();
  }

  private async followSync(): Promise<void> {
    const states = [...this.states.values()].map((s) => s.state);
    const role: HaStatus['role'] = !this.supervisor.isRunning
      ? 'stopped'
      : states.length > 0 && states.every((s) => s === 'MASTER')
        ? 'master'
        : states.includes('FAULT')
          ? 'fault'
          : 'backup';
    const isRoleChange = role !== this.role;
    this.role = role;
    if (this.isClosing || !this.ha?.isEnabled) return;
    const cs = this.ha.connectionSync;
    const wanted: SyncWanted = !cs.isEnabled ? 'off' : role === 'master' ? 'master' : 'backup';
    await this.sync.follow(wanted, { interface: this.ha.interface, syncId: cs.syncId ?? this.ha.virtualRouterId });
    if (isRoleChange) this.emit({ kind: 'sync', state: wanted, message: `This node is ${role}; connection sync daemon: ${wanted}.` });
  }

  private emit(e: Omit<HaEvent, 'type' | 'at' | 'node'>): void {
    this.opts.onEvent({ type: 'ha', at: new Date().toISOString(), ...(this.node ? { node: this.node.name } : {}), ...e });
  }

  /** Undefined when the configuration has no `ha` block. Addresses and sync daemons are read back from the kernel. */
  async status(): Promise<HaStatus | undefined> {
    const ha = this.ha;
    if (!ha) return undefined;
    const [local, sync] = await Promise.all([this.local().catch(() => new Map<string, string[]>()), this.sync.status()]);
    const held = (a: HaAddress) => (local.get(a.interface) ?? []).includes(canonical(a.address));
    const k = this.supervisor.status();
    return {
      isEnabled: ha.isEnabled,
      ...(this.node ? { node: this.node.name } : {}),
      peers: ha.nodes.filter((n) => n.name !== this.node?.name).map((n) => ({ name: n.name, address: n.address })),
      role: this.role,
      instances: this.groups.map((g) => {
        const s = this.states.get(g.name) ?? { state: 'INIT' as const, since: new Date().toISOString() };
        return {
          name: g.name,
          interface: g.interface,
          virtualRouterId: g.virtualRouterId,
          ...s,
          addresses: g.addresses.map((a) => ({ address: a.address, prefix: a.prefix, interface: a.interface, isHeld: held(a) })),
        };
      }),
      keepalived: {
        isRunning: k.isRunning,
        pid: k.pid,
        startedAt: k.startedAt,
        restarts: k.restarts,
        reloads: k.reloads,
        lastReloadAt: k.lastReloadAt,
        lastExit: k.lastExit,
        nextStartAt: k.nextStartAt,
        configPath: this.confPath,
      },
      syncDaemon: {
        wanted: sync.wanted,
        settings: sync.settings,
        running: sync.running.map((d) => ({ state: d.state, interface: d.interface, syncId: d.syncId })),
        ...(sync.readAt ? { readAt: sync.readAt } : {}),
      },
      ...(this.stick ? { stickSync: this.stick.status() } : this.stickError ? { stickSync: { error: this.stickError } } : {}),
      sysctls: Object.fromEntries(['net/ipv4/ip_nonlocal_bind', 'net/ipv6/ip_nonlocal_bind'].map((p) => [p.replace(/\//g, '.'), readSysctl(p) ?? null])),
      ...((this.error ?? k.error ?? sync.error) ? { error: this.error ?? k.error ?? sync.error } : {}),
    };
  }

  /** Stops keepalived (it releases the addresses and tells the peer at once). The sync daemon is left as it is. */
  async close(): Promise<void> {
    this.isClosing = true;
    await this.queue.idle();
    await this.supervisor.stop();
    this.fifo.close();
    await this.closeStickSync();
    this.sync.close();
  }
}

/** Atomic replace, only when the text differs: the caller reloads keepalived exactly when this returns true. */
function writeIfChanged(file: string, text: string): boolean {
  try {
    if (fs.readFileSync(file, 'utf8') === text) return false;
  } catch {
    // absent: write it
  }
  fs.writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
  return true;
}
