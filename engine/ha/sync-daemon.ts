/**
 * The IPVS connection sync daemon, driven by the engine over IPVS generic netlink (l4/codec.ts NEW_DAEMON /
 * DEL_DAEMON / GET_DAEMON) and following the VRRP state: `master` on the active node (it multicasts every
 * connection it schedules), `backup` on the standby (it builds the same connection entries), so a connection
 * established through the old active node finds its real server on the new one.
 *
 * Why the engine and not keepalived's lvs_sync_daemon: the engine already owns IPVS and reads it back, so it can say
 * in its status which daemons run and why one could not start, and keepalived stays VRRP-only (--vrrp).
 *
 * On a change the new daemon starts before the old one stops (the kernel runs a master and a backup side by side
 * since 2.6.39), so no connection made during the change goes unsynced. Only daemons the engine started (recorded
 * in ha-sync.json) or ones with exactly its settings are stopped or replaced; a daemon someone else started with
 * other settings is reported (HA_SYNC_CONFLICT), never stopped. Transport: the kernel's defaults, multicast group
 * 224.0.0.81 port 8848 on the HA interface, TTL 1.
 */
import fs from 'node:fs';
import { EngineError } from '../errors.ts';
import { SerialQueue } from '../serial.ts';
import { LatestRead } from '../latest-read.ts';
import type { ExecResult } from '../l4/client.ts';
import type { SyncDaemon } from '../l4/model.ts';

export interface SyncPort {
  daemons(): Promise<SyncDaemon[]>;
  startDaemon(d: SyncDaemon): Promise<ExecResult>;
  stopDaemon(state: SyncDaemon['state']): Promise<ExecResult>;
  close(): void;
}

export type SyncWanted = 'master' | 'backup' | 'off';
export interface SyncSettings {
  interface: string;
  syncId: number;
}

export interface SyncStatus {
  wanted: SyncWanted;
  settings?: SyncSettings;
  /** What the kernel runs, read back at `readAt`. */
  running: SyncDaemon[];
  readAt?: string;
  error?: { code: string; message: string };
}

type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
const STATES = ['master', 'backup'] as const;

export class SyncDaemonFollower {
  private port: SyncPort | undefined;
  private wanted: SyncWanted = 'off';
  private settings: SyncSettings | undefined;
  private error: SyncStatus['error'];
  private owned: Set<SyncDaemon['state']>;
  private readonly queue = new SerialQueue();
  /** Read back at most every half second (a test polls the status every 100 ms); a change here reads afresh. */
  private readonly runningRead = new LatestRead(() => this.port!.daemons(), 1000, 500);

  constructor(
    private readonly open: () => Promise<SyncPort>,
    private readonly recordPath: string,
    private readonly log: Log,
  ) {
    this.owned = new Set(readRecord(recordPath));
  }

  /** Makes the kernel run the daemon `wanted` asks for. Never throws: a failure is in status().error. */
  follow(wanted: SyncWanted, settings?: SyncSettings): Promise<void> {
    return this.queue.run(() => this.reconcile(wanted, settings));
  }

  private async connect(): Promise<SyncPort | undefined> {
    try {
      return (this.port ??= await this.open());
    } catch (e) {
      this.error = { code: (e as EngineError).code ?? 'IPVS_UNAVAILABLE', message: (e as Error).message };
      return undefined;
    }
  }

  private async reconcile(wanted: SyncWanted, settings: SyncSettings | undefined): Promise<void> {
    const isChange = wanted !== this.wanted || JSON.stringify(settings) !== JSON.stringify(this.settings);
    this.wanted = wanted;
    this.settings = settings;
    if (wanted === 'off' && this.owned.size === 0) return void (this.error = undefined);
    const port = await this.connect();
    if (!port) return;
    this.error = undefined;
    try {
      const running = await port.daemons();
      // A daemon with exactly our settings is ours (started by an engine whose record was lost).
      for (const d of running) if (settings && d.interface === settings.interface && d.syncId === settings.syncId) this.owned.add(d.state);
      if (wanted !== 'off' && settings) await this.ensure(port, running, wanted, settings);
      for (const other of STATES) {
        if (other === wanted || !this.owned.has(other)) continue;
        if (running.some((d) => d.state === other)) await this.exec(port.stopDaemon(other), other, 'stopped');
        this.owned.delete(other);
      }
    } catch (e) {
      this.error = { code: (e as EngineError).code ?? 'HA_SYNC_FAILED', message: (e as Error).message };
      this.log('error', 'connection sync daemon not as wanted', { wanted, error: this.error.message });
    } finally {
      this.runningRead.invalidate();
      saveRecord(this.recordPath, [...this.owned]);
    }
    if (isChange && !this.error) this.log('info', `connection sync daemon: ${wanted}`, { ...settings });
  }

  private async ensure(port: SyncPort, running: SyncDaemon[], state: SyncDaemon['state'], s: SyncSettings): Promise<void> {
    const cur = running.find((d) => d.state === state);
    if (cur && cur.interface === s.interface && cur.syncId === s.syncId) return;
    if (cur && !this.owned.has(state)) throw new EngineError('HA_SYNC_CONFLICT', { state, found: `interface ${cur.interface}, sync ID ${cur.syncId}` });
    if (cur) await this.exec(port.stopDaemon(state), state, 'stopped');
    await this.exec(port.startDaemon({ state, interface: s.interface, syncId: s.syncId }), state, 'started');
    this.owned.add(state);
  }

  private async exec(p: Promise<ExecResult>, state: string, what: string): Promise<void> {
    const r = await p;
    if (!r.ok) throw new EngineError('HA_SYNC_FAILED', { state, reason: r.error?.message ?? r.errno ?? 'the kernel refused it' });
    this.log('info', `IPVS ${state} sync daemon ${what}`);
  }

  /** `running` as the kernel has it, or — while a daemon is being started or stopped — as read last (latest-read.ts). */
  async status(): Promise<SyncStatus> {
    const { value: running, readAt } = this.port
      ? await this.runningRead.get().catch(() => ({ value: [], readAt: undefined }))
      : { value: [], readAt: undefined };
    return {
      wanted: this.wanted,
      ...(this.settings ? { settings: this.settings } : {}),
      running,
      ...(readAt ? { readAt } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  close(): void {
    this.port?.close();
    this.port = undefined;
  }
}

function readRecord(file: string): SyncDaemon['state'][] {
  try {
    const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as { owned?: unknown };
    return Array.isArray(rec.owned) ? rec.owned.filter((s): s is SyncDaemon['state'] => s === 'master' || s === 'backup') : [];
  } catch {
    return [];
  }
}

function saveRecord(file: string, owned: SyncDaemon['state'][]): void {
  const text = JSON.stringify({ version: 1, owned: owned.sort() });
  try {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
    fs.writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  } catch {
    // Kept in memory; a daemon this engine started and cannot record is still one it stops while it runs.
  }
}
