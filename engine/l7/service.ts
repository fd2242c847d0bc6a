/**
 * One layer 7 service inside a worker, in two parts:
 *
 * - ServiceState lives as long as the service exists: counters, stick tables, scheduler rhythm, the wait queue, and
 *   one ServerState per real server (its in-flight count and keep-alive pool). A reload keeps all of it, so pools
 *   stay warm and a queue is not lost when health changes trigger an apply.
 * - ServiceRuntime is one apply's view: the plan, compiled rules, server groups and TLS. Listeners point at the newest
 *   runtime; an exchange keeps the runtime it started with until it ends, which is how a reload lets in-flight
 *   requests finish under the old configuration while new ones use the new.
 *
 * Which servers may take whom (server-state.ts):
 *
 *   disposition │ health down │ new clients │ persistent clients │ idle pool
 *   ────────────┼─────────────┼─────────────┼────────────────────┼──────────
 *   serve       │ no          │ yes         │ yes                │ kept
 *   quiesce     │ no (drain)  │ no          │ yes                │ kept
 *   quiesce     │ yes         │ no          │ no (fail over)     │ kept
 *   remove      │ any         │ no          │ no                 │ closed, tunnels cut
 */
import type tls from 'node:tls';
import type { ServicePlan, ServerPlan } from './plan.ts';
import { Scheduler } from './scheduler.ts';
import { compileRules, type CompiledRules } from './rules.ts';
import { StickTable, type StickSync } from './persistence.ts';
import { newCounters, type Counters } from './stats.ts';
import { Pool } from './upstream.ts';
import { createTlsServer } from './tls.ts';
import { slotKey, type SlotClient } from './slots.ts';
import { ForwardingPolicy } from './forwarding.ts';
import { upstreamTlsOf, type UpstreamTls } from './upstream-tls.ts';

export class ServerState {
  readonly key: string;
  plan: ServerPlan;
  active = 0;
  /** Of `active`, the slots the primary granted (slots.ts); each goes back to it on release. */
  clusterSlots = 0;
  /** The primary denied a slot and no slot-free for this server has come since. */
  isClusterFull = false;
  readonly counters: Counters = newCounters();
  readonly pool = new Pool();
  /** Open tunnels (tcp mode, WebSocket), cut when the server is halted. */
  readonly tunnels = new Set<{ destroy(): void }>();
  /** The id carried in the insert cookie. */
  cookieId = '';
  /** The re-encryption settings its pooled connections were made with (JSON; '' before the first runtime). */
  upstreamTlsKey = '';

  constructor(key: string, plan: ServerPlan) {
    this.key = key;
    this.plan = plan;
  }

  get name(): string {
    return this.plan.name;
  }
  get weight(): number {
    return this.plan.weight;
  }
  get isFull(): boolean {
    return this.plan.maxConnections > 0 && (this.active >= this.plan.maxConnections || this.isClusterFull);
  }
  get canTakeNew(): boolean {
    return this.plan.disposition === 'serve' && this.plan.weight > 0;
  }
  get canKeepPersistent(): boolean {
    return this.plan.disposition !== 'remove' && !this.plan.isHealthDown;
  }
}

export interface Waiter {
  retry(): void;
  timer: NodeJS.Timeout;
}

export class ServiceState {
  readonly name: string;
  readonly counters: Counters = newCounters();
  readonly servers = new Map<string, ServerState>();
  readonly schedulers = new Map<string, Scheduler>();
  readonly tables = new Map<string, StickTable>();
  readonly queue: Waiter[] = [];
  private readonly sync: StickSync | undefined;
  /** Set in a cluster worker: limited servers take their slots from the primary. Unset in-process (exact locally). */
  readonly slots: SlotClient | undefined;

  constructor(name: string, sync?: StickSync, slots?: SlotClient) {
    this.name = name;
    this.sync = sync;
    this.slots = slots;
  }

  slotKey(server: ServerState): string {
    return slotKey(this.name, server.key);
  }

  table(kind: 'source' | 'app' | 'rdp', timeoutMs: number): StickTable {
    const name = `${this.name}/${kind}`;
    let t = this.tables.get(name);
    if (!t || t.timeoutMs !== timeoutMs) {
      const old = t;
      t = new StickTable(name, timeoutMs, this.sync);
      if (old) for (const [k, e] of old.dump()) t.merge(k, e);
      this.tables.set(name, t);
    }
    return t;
  }

  /** A slot freed on some server: the first waiter tries again (it re-queues itself at the front if still full). */
  wakeOne(): void {
    const w = this.queue.shift();
    if (!w) return;
    clearTimeout(w.timer);
    w.retry();
  }
}

export type Pick = { kind: 'server'; server: ServerState } | { kind: 'full' } | { kind: 'none' };
const FULL: Pick = { kind: 'full' };
const NONE: Pick = { kind: 'none' };

export class ServiceRuntime {
  readonly plan: ServicePlan;
  readonly state: ServiceState;
  readonly rules: CompiledRules;
  /** Servers by group; '' holds the servers with no group (the default for requests no route claims). */
  readonly groups = new Map<string, ServerState[]>();
  readonly byName = new Map<string, ServerState>();
  readonly byCookieId = new Map<string, ServerState>();
  readonly fallback: ServerState | null;
  readonly tlsServer: tls.Server | null;
  /** TLS to the real servers (re-encryption), or undefined. */
  readonly upstreamTls: UpstreamTls | undefined;
  /** What becomes of X-Forwarded-For, X-Forwarded-Proto and Forwarded (forwarding.ts). */
  readonly forwarding: ForwardingPolicy;
  readonly sourceTable: StickTable | null;
  readonly appTable: StickTable | null;
  readonly rdpTable: StickTable | null;
  /** This runtime's schedulers by group (the objects live in ServiceState, so a reload keeps their rhythm). */
  private readonly schedulerByGroup = new Map<string, Scheduler>();
  /** Scratch list for pick(): filled and used within one call, so no list is made per request. */
  private readonly open: ServerState[] = [];

  constructor(plan: ServicePlan, state: ServiceState, ticketKeys: Buffer, cookieId: (service: string, server: string) => string) {
    this.plan = plan;
    this.state = state;
    this.rules = compileRules(plan.layer7);
    this.forwarding = new ForwardingPolicy(plan.layer7);
    this.upstreamTls = upstreamTlsOf(plan.name, plan.layer7.reencrypt);
    const tlsPlan = plan.layer7.tls;
    this.tlsServer = tlsPlan
      ? createTlsServer({
          certificates: plan.certificates,
          minVersion: tlsPlan.minVersion,
          cipherProfile: tlsPlan.cipherProfile,
          alpn: tlsPlan.alpn ?? (plan.mode === 'http' ? ['h2', 'http/1.1'] : ['http/1.1']),
          ticketKeys,
        })
      : null;

    const seen = new Set<string>();
    const tlsKey = JSON.stringify(plan.layer7.reencrypt ?? null);
    for (const sp of plan.servers) {
      const key = `${sp.name}|${sp.address}|${sp.port ?? ''}`;
      let s = state.servers.get(key);
      if (!s) {
        s = new ServerState(key, sp);
        state.servers.set(key, s);
      }
      s.plan = sp;
      // A connection verified against a trust the new configuration no longer has must not be reused.
      if (s.upstreamTlsKey !== tlsKey) {
        if (s.upstreamTlsKey !== '') s.pool.retire();
        s.upstreamTlsKey = tlsKey;
      }
      // A reload may raise the maximum; the next acquire asks the primary again.
      s.isClusterFull = false;
      s.cookieId = cookieId(plan.name, sp.name);
      seen.add(key);
      this.byName.set(sp.name, s);
      this.byCookieId.set(s.cookieId, s);
      const g = sp.group ?? '';
      if (!this.groups.has(g)) this.groups.set(g, []);
      this.groups.get(g)!.push(s);
      if (sp.disposition === 'remove') {
        s.pool.closeIdle();
        for (const t of [...s.tunnels]) t.destroy();
      }
    }
    // Servers that left the configuration: close what is idle; busy exchanges finish on their own references.
    for (const [key, s] of state.servers) {
      if (!seen.has(key) && !key.startsWith('~')) {
        s.pool.closeIdle();
        for (const t of [...s.tunnels]) t.destroy();
        if (s.active === 0) state.servers.delete(key);
      }
    }
    if (!this.groups.has('')) this.groups.set('', [...this.byName.values()]);

    const fb = plan.fallback;
    if (fb?.type === 'server') {
      const key = `~fallback|${fb.address}|${fb.port ?? ''}`;
      let s = state.servers.get(key);
      const sp: ServerPlan = {
        name: '~fallback',
        address: fb.address,
        port: fb.port,
        weight: 1,
        disposition: 'serve',
        isHealthDown: false,
        maxConnections: 0,
        isBackup: true,
      };
      if (!s) state.servers.set(key, (s = new ServerState(key, sp)));
      s.plan = sp;
      this.fallback = s;
    } else this.fallback = null;

    const p = plan.persistence;
    this.sourceTable = p.type === 'source-ip' ? state.table('source', p.timeoutSeconds * 1000) : null;
    this.appTable = p.type === 'app-cookie' ? state.table('app', p.timeoutSeconds * 1000) : null;
    this.rdpTable = p.type === 'rdp-cookie' ? state.table('rdp', p.timeoutSeconds * 1000) : null;
  }

  scheduler(group: string): Scheduler {
    let s = this.schedulerByGroup.get(group);
    if (s === undefined) {
      const key = `${group}|${this.plan.scheduler}`;
      s = this.state.schedulers.get(key);
      if (!s) this.state.schedulers.set(key, (s = new Scheduler(this.plan.scheduler)));
      this.schedulerByGroup.set(group, s);
    }
    return s;
  }

  /**
   * A server for a new client of `group`: primaries that take new clients; backups only when no primary does.
   * `full` when every such server is at its maximum (the caller queues); `none` when there is no server at all.
   */
  pick(group: string, hashKey: string, exclude: ReadonlySet<ServerState> | null): Pick {
    const servers = this.groups.get(group) ?? this.groups.get('')!;
    const open = this.open;
    for (let pass = 0; pass < 2; pass++) {
      const isBackup = pass === 1;
      let any = false;
      open.length = 0;
      for (let i = 0; i < servers.length; i++) {
        const s = servers[i];
        if (s.plan.isBackup !== isBackup || !s.canTakeNew || (exclude !== null && exclude.has(s))) continue;
        any = true;
        if (!s.isFull) open.push(s);
      }
      if (!any) continue;
      if (open.length === 0) return FULL;
      const server = this.scheduler(group).pick(open, hashKey)!;
      open.length = 0;
      return { kind: 'server', server };
    }
    return NONE;
  }

  /** The persistent server if it may still serve this client (drained: yes; halted or health-down: no). */
  persistent(name: string | undefined, exclude: ReadonlySet<ServerState> | null): ServerState | undefined {
    if (name === undefined) return undefined;
    const s = this.byName.get(name);
    if (!s || !s.canKeepPersistent || exclude?.has(s)) return undefined;
    return s;
  }
}
