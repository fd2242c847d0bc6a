/**
 * The health monitor: runs every configured check on its own schedule, applies rise and fall, and reports
 * transitions and feedback to the engine, which hands them to engine/server-state.ts (the one decision). It never
 * touches a data plane itself.
 *
 * - One check per distinct target and settings: two services that check 10.0.0.61:80 the same way share one
 *   check, its state and its traffic (keepalived and HAProxy would probe twice).
 * - Each check starts at a random offset within its interval, so 2,000 checks do not fire together, and then runs
 *   every interval from its previous start (the schema keeps the timeout within the interval, so runs never
 *   overlap). Offsets are rounded to one of SLOTS slots of the interval: checks of one interval placed in the same
 *   slot by one update share one timer and stay together, so 2,000 checks every 2 s wake this process 20 times a
 *   second, not 1,000 (see Slot).
 * - State per check (HAProxy's rise/fall):
 *
 *     state   │ pass                                │ fail
 *     ────────┼─────────────────────────────────────┼──────────────────────────────────
 *     unknown │ → up                                │ fall consecutive → down
 *     up      │ stays up                            │ fall consecutive → down
 *     down    │ rise consecutive → up (1 while the  │ stays down
 *             │ service starts down and none passed)│
 *
 *   A new check starts `unknown` (counted as up), or `down` when the service sets startsDown. When a new
 *   configuration changes a server's check settings but not its target, the server keeps the health it had (a dead
 *   server does not come back into rotation because someone changed its interval); its counters start again.
 * - A feedback agent (HAProxy agent-check) runs beside any kind, on its own schedule, shared the same way; what it
 *   says lasts until it says otherwise (`ready` clears drain/maint, `up` clears down, a new percentage replaces the
 *   old); an unreachable agent changes nothing.
 * - Targets outside `allowedNetworks` are never probed: the server is reported "not checked" and stays unknown.
 */
import ipaddr from 'ipaddr.js';
import type { Config, HealthCheck, HealthCheckType, HealthState, RealServer, VirtualService } from '../config/index.ts';
import { expandPorts } from '../config/ports.ts';
import { serverKey, type ServerCheckStatus, type ServerKey } from '../dataplane.ts';
import type { Feedback } from '../server-state.ts';
import { targetText, type CheckResult } from './status.ts';
import type { HealthTransitionEvent } from '../api-types.ts';
import type { AgentChecker, AgentReport, Checker, CheckTarget } from './types.ts';

export type CheckKind = Exclude<HealthCheckType, 'none'>;

/** A transition as the monitor sees it: the engine's event (api-types.ts) before it is numbered, with its key. */
export type MonitorTransition = Omit<HealthTransitionEvent, 'type' | 'seq' | 'check'> & { key: ServerKey; check: CheckKind };

export interface MonitorOptions {
  checkers: Record<CheckKind, Checker>;
  agentChecker?: AgentChecker;
  /** CIDRs the monitor may probe; unset means any address. */
  allowedNetworks?: string[];
  random?: () => number;
  onTransitions: (transitions: MonitorTransition[]) => void;
  onFeedback: (keys: ServerKey[]) => void;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

interface Subscriber {
  key: ServerKey;
  virtualService: string;
  realServer: string;
}

/**
 * How finely start offsets are placed: each interval is cut into SLOTS (at least MIN_SLOT_MS each), and checks in one
 * slot start together, so a slot holds about a fortieth of the checks of that interval whatever its length. 2,000
 * checks every 2 s make 40 slots of 50 ms with about 50 checks, 20 a second. Measured with bench/health.ts (on this
 * project's 2-core VM, the monitor alone): slots of 10 ms cost 14 % of a core, 50 ms 10 %, 100 ms 9 %; what a check
 * costs is mostly the process waking up for it. A check still starts within half a slot of its random offset, and a
 * slot's checks within a few milliseconds of each other, which is as spread as any real server needs.
 */
const SLOTS = 40;
const MIN_SLOT_MS = 10;

class Check {
  health: HealthState;
  since: number;
  successes = 0;
  failures = 0;
  /** Started down (startsDown) and no pass yet: the first pass brings it up. */
  isWaitingFirstPass: boolean;
  last?: CheckResult;
  lastAt?: number;
  slot?: Slot;
  isRunning = false;
  /** Set with abort.abort(): a plain field, read on every run (the signal's getter is not free). */
  isStopped = false;
  readonly abort = new AbortController();
  /** What the checker is handed on every run: the target and this check's abort signal, built once. */
  readonly probe: CheckTarget;
  subscribers = new Map<ServerKey, Subscriber>();
  constructor(readonly id: string, readonly kind: CheckKind, readonly target: CheckTarget, readonly targetText: string, initial: { health: HealthState; since: number }) {
    this.health = initial.health;
    this.since = initial.since;
    this.isWaitingFirstPass = initial.health === 'down' && target.check.startsDown;
    this.probe = { ...target, signal: this.abort.signal };
  }
}

/**
 * Checks of one interval that start together, on one timer: the slot fires, starts each of its checks and is due
 * again one interval later. A timer per check meant a wake-up of the process per check, and each wake-up cost more
 * than the check's own bookkeeping; where reading the clock is a system call (a VM without a vDSO, such as the
 * User-Mode Linux test kernel) arming a Node timer also costs two of them, about 30 µs there. Membership changes only
 * when a check starts, stops, or is run out of turn (runNow).
 */
class Slot {
  timer?: NodeJS.Timeout;
  readonly checks = new Set<Check>();
  constructor(readonly intervalMs: number) {}
}

class AgentPoll {
  timer?: NodeJS.Timeout;
  isRunning = false;
  last?: AgentReport & { at: number };
  readonly abort = new AbortController();
  subscribers = new Set<ServerKey>();
  constructor(readonly id: string, readonly target: { address: string; port: number; timeoutMs: number; intervalMs: number; send?: string }) {}
}

/** Where a server's health comes from: a check, or a sentence saying why it is not checked. */
type Ref = { check: Check; type: CheckKind } | { note: string; type: HealthCheckType; target: string };

export class HealthMonitor {
  private checks = new Map<string, Check>();
  private agents = new Map<string, AgentPoll>();
  private refs = new Map<ServerKey, Ref>();
  private agentOf = new Map<ServerKey, AgentPoll>();
  /** Feedback per server: the agent's lasting words and an external check's dynamic weight. */
  private readonly feedback = new Map<ServerKey, Feedback>();
  private pending: MonitorTransition[] = [];
  private pendingFeedback = new Set<ServerKey>();
  private isFlushQueued = false;
  private readonly allowed: [ipaddr.IPv4 | ipaddr.IPv6, number][] | undefined;
  private readonly random: () => number;
  private readonly startedAt = Date.now();
  private isClosed = false;

  constructor(private readonly opts: MonitorOptions) {
    this.random = opts.random ?? Math.random;
    this.allowed = opts.allowedNetworks?.map((c) => ipaddr.parseCIDR(c));
  }

  /** Checks for a new configuration: shared checks keep their state and schedule; others start or stop. */
  update(config: Config): void {
    if (this.isClosed) return;
    const before = new Map<ServerKey, { health: HealthState; since: number; target: string }>();
    for (const [key, ref] of this.refs) if ('check' in ref) before.set(key, { health: ref.check.health, since: ref.check.since, target: ref.check.targetText });
    const checks = new Map<string, Check>();
    const agents = new Map<string, AgentPoll>();
    const refs = new Map<ServerKey, Ref>();
    const agentOf = new Map<ServerKey, AgentPoll>();
    for (const vs of config.virtualServices) {
      if (!vs.isEnabled) continue;
      for (const rs of vs.realServers) {
        const sub: Subscriber = { key: serverKey(vs.name, rs.name), virtualService: vs.name, realServer: rs.name };
        refs.set(sub.key, this.refFor(vs, rs, sub, checks, before));
        const agent = vs.healthCheck.agent;
        if (agent && this.isAllowed(rs.address)) {
          const t = { address: rs.address, port: agent.port, timeoutMs: agent.timeoutMs, intervalMs: agent.intervalMs, send: agent.send };
          const id = JSON.stringify(t);
          let a = agents.get(id) ?? this.agents.get(id);
          if (!a) a = new AgentPoll(id, t);
          agents.set(id, a);
          a.subscribers.add(sub.key);
          agentOf.set(sub.key, a);
        }
      }
    }
    for (const [id, c] of this.checks) if (!checks.has(id)) this.stopCheck(c);
    for (const [id, a] of this.agents) if (!agents.has(id)) this.stopAgent(a);
    // Subscribers that left a shared check or agent.
    for (const c of checks.values()) for (const k of c.subscribers.keys()) if ((refs.get(k) as { check?: Check } | undefined)?.check !== c) c.subscribers.delete(k);
    for (const a of agents.values()) for (const k of a.subscribers) if (agentOf.get(k) !== a) a.subscribers.delete(k);
    for (const k of this.feedback.keys()) if (!refs.has(k)) this.feedback.delete(k);
    for (const [k, fb] of this.feedback) if (!agentOf.has(k) && (fb.admin || fb.weightPercent !== undefined || fb.agentHealth)) this.setFeedback(k, { dynamicWeight: fb.dynamicWeight });
    this.checks = checks;
    this.agents = agents;
    this.refs = refs;
    this.agentOf = agentOf;
    const placed = new Map<string, Slot>();
    for (const c of checks.values()) if (!c.slot) this.place(c, this.random() * c.target.check.intervalMs, placed);
    for (const a of agents.values()) if (!a.timer && !a.isRunning) this.scheduleAgent(a, this.random() * a.target.intervalMs);
  }

  private refFor(vs: VirtualService, rs: RealServer, sub: Subscriber, checks: Map<string, Check>, before: Map<ServerKey, { health: HealthState; since: number; target: string }>): Ref {
    const hc = vs.healthCheck;
    const vipPort = expandPorts(vs.ports)[0];
    const port = hc.type === 'ping' ? undefined : (rs.healthCheck?.port ?? hc.port ?? rs.port ?? vipPort);
    const target = targetText(rs.address, port);
    if (hc.type === 'none') return { type: 'none', target, note: 'Health checks are off for this service.' };
    if (hc.type !== 'ping' && port === undefined) return { type: hc.type, target, note: 'Not checked: the service has no port of its own; give the check a port.' };
    if (!this.isAllowed(rs.address)) return { type: hc.type, target, note: `Not checked: ${rs.address} is outside the networks this engine may probe (${this.opts.allowedNetworks!.join(', ')}).` };
    const own = rs.healthCheck ?? {};
    const check: HealthCheck = { ...hc, agent: undefined, onDown: 'quiesce', intervalMs: own.intervalMs ?? hc.intervalMs, timeoutMs: own.timeoutMs ?? hc.timeoutMs, rise: own.rise ?? hc.rise, fall: own.fall ?? hc.fall, port };
    if (check.timeoutMs > check.intervalMs) check.timeoutMs = check.intervalMs;
    const id = JSON.stringify([canonical(rs.address), check, hc.type === 'external' ? [vs.address, vipPort] : null]);
    let c = checks.get(id) ?? this.checks.get(id);
    if (!c) {
      const was = before.get(sub.key);
      const initial = was && was.target === target && was.health !== 'unknown' ? was : { health: (hc.startsDown ? 'down' : 'unknown') as HealthState, since: Date.now() };
      c = new Check(id, hc.type, { address: rs.address, port, vip: vs.address, vipPort, check }, target, initial);
    }
    c.subscribers.set(sub.key, sub);
    checks.set(id, c);
    return { check: c, type: hc.type };
  }

  private isAllowed(address: string): boolean {
    if (!this.allowed) return true;
    const a = ipaddr.process(address);
    return this.allowed.some(([net, bits]) => net.kind() === a.kind() && a.match(net, bits));
  }

  healthOf(key: ServerKey): HealthState | undefined {
    const ref = this.refs.get(key);
    return ref && 'check' in ref ? ref.check.health : undefined;
  }

  feedbackOf(key: ServerKey): Feedback | undefined {
    return this.feedback.get(key);
  }

  statusOf(key: ServerKey): ServerCheckStatus | undefined {
    const ref = this.refs.get(key);
    if (!ref) return undefined;
    const agent = this.agentOf.get(key)?.last;
    const agentStatus = agent ? { weightPercent: agent.weightPercent, admin: agent.admin, health: agent.health, message: agent.message, at: new Date(agent.at).toISOString() } : undefined;
    if ('note' in ref) return { type: ref.type, target: ref.target, health: 'unknown', since: new Date(this.startedAt).toISOString(), code: 'NOCHK', message: ref.note, agent: agentStatus };
    const c = ref.check;
    const waiting = c.isWaitingFirstPass && !c.last ? 'Waiting for the first check to pass (this service starts its servers down).' : undefined;
    return {
      type: c.kind,
      target: c.targetText,
      health: c.health,
      since: new Date(c.since).toISOString(),
      code: c.last?.code,
      message: c.last?.message ?? waiting,
      durationMs: c.last?.durationMs,
      lastCheckAt: c.lastAt ? new Date(c.lastAt).toISOString() : undefined,
      agent: agentStatus,
    };
  }

  /** Runs every check (and agent) now instead of at its next turn; the schedule then goes on from now. */
  runNow(): void {
    const placed = new Map<string, Slot>();
    const at = Date.now();
    for (const c of this.checks.values()) {
      this.unplace(c);
      this.place(c, c.target.check.intervalMs, placed);
      this.run(c, at);
    }
    for (const a of this.agents.values()) {
      if (a.timer) clearTimeout(a.timer);
      this.runAgent(a);
    }
  }

  /** How many distinct checks and agents run (tests and the benchmark read it). */
  get size(): { checks: number; agents: number } {
    return { checks: this.checks.size, agents: this.agents.size };
  }

  close(): void {
    this.isClosed = true;
    for (const c of this.checks.values()) this.stopCheck(c);
    for (const a of this.agents.values()) this.stopAgent(a);
    this.checks.clear();
    this.agents.clear();
  }

  /** Puts `c` in the slot of its interval that fires in `delayMs` (rounded to a slot), one of `placed` if there is. */
  private place(c: Check, delayMs: number, placed: Map<string, Slot>): void {
    const intervalMs = c.target.check.intervalMs;
    const slotMs = Math.max(MIN_SLOT_MS, intervalMs / SLOTS);
    const delay = Math.min(Math.round(delayMs / slotMs) * slotMs, intervalMs);
    const key = `${intervalMs}/${delay}`;
    let s = placed.get(key);
    if (!s) {
      s = new Slot(intervalMs);
      placed.set(key, s);
      this.arm(s, delay);
    }
    s.checks.add(c);
    c.slot = s;
  }

  private unplace(c: Check): void {
    const s = c.slot;
    c.slot = undefined;
    if (!s) return;
    s.checks.delete(c);
    if (s.checks.size === 0 && s.timer) {
      clearTimeout(s.timer);
      s.timer = undefined;
    }
  }

  private arm(s: Slot, delayMs: number): void {
    s.timer = setTimeout(() => this.fire(s), delayMs);
    s.timer.unref();
  }

  private fire(s: Slot): void {
    s.timer = undefined;
    if (s.checks.size === 0) return;
    // Due again one interval after this run started, whatever the checks take.
    this.arm(s, s.intervalMs);
    // One clock reading for the slot: each result's time is this plus the check's own duration.
    const at = Date.now();
    for (const c of s.checks) this.run(c, at);
  }

  private run(c: Check, at: number): void {
    if (c.isStopped || c.isRunning) return;
    c.isRunning = true;
    this.opts.checkers[c.kind](c.probe).then(
      (r) => this.settle(c, r, at),
      (e: Error) => this.settle(c, { code: 'L4CON', isPass: false, message: `The check failed unexpectedly: ${e.message}`, durationMs: 0 }, at),
    );
  }

  private settle(c: Check, r: CheckResult, startedAt: number): void {
    c.isRunning = false;
    if (!c.isStopped) this.onResult(c, r, startedAt + Math.round(r.durationMs));
  }

  private onResult(c: Check, r: CheckResult, lastAt: number): void {
    c.last = r;
    c.lastAt = lastAt;
    const previous = c.health;
    let next = previous;
    if (r.isPass) {
      c.failures = 0;
      c.successes++;
      if (previous === 'unknown') next = 'up';
      else if (previous === 'down' && c.successes >= (c.isWaitingFirstPass ? 1 : c.target.check.rise)) next = 'up';
    } else {
      c.successes = 0;
      c.failures++;
      if (previous !== 'down' && c.failures >= c.target.check.fall) next = 'down';
    }
    if (c.target.check.type === 'external' && c.target.check.external?.isDynamicWeight) {
      for (const k of c.subscribers.keys()) {
        const fb = this.feedback.get(k);
        const weight = r.isPass ? r.weight : undefined;
        if (fb?.dynamicWeight !== weight) this.setFeedback(k, { ...fb, dynamicWeight: weight });
      }
    }
    if (next === previous) return;
    c.health = next;
    c.since = lastAt;
    c.isWaitingFirstPass = false;
    const at = new Date(lastAt).toISOString();
    for (const s of c.subscribers.values()) {
      this.pending.push({ ...s, previous, health: next, code: r.code, message: r.message, durationMs: r.durationMs, check: c.kind, target: c.targetText, at });
    }
    this.queueFlush();
  }

  private setFeedback(key: ServerKey, fb: Feedback): void {
    const clean = Object.fromEntries(Object.entries(fb).filter(([, v]) => v !== undefined)) as Feedback;
    if (Object.keys(clean).length === 0) this.feedback.delete(key);
    else this.feedback.set(key, clean);
    this.pendingFeedback.add(key);
    this.queueFlush();
  }

  /** Results that land together (a switch port dies and 40 checks fail at once) reach the engine as one batch. */
  private queueFlush(): void {
    if (this.isFlushQueued) return;
    this.isFlushQueued = true;
    setImmediate(() => {
      this.isFlushQueued = false;
      const t = this.pending;
      const f = [...this.pendingFeedback];
      this.pending = [];
      this.pendingFeedback.clear();
      if (this.isClosed) return;
      if (t.length > 0) this.opts.onTransitions(t);
      if (f.length > 0) this.opts.onFeedback(f);
    });
  }

  private stopCheck(c: Check): void {
    this.unplace(c);
    c.isStopped = true;
    c.abort.abort();
  }

  private stopAgent(a: AgentPoll): void {
    if (a.timer) clearTimeout(a.timer);
    a.timer = undefined;
    a.abort.abort();
  }

  private scheduleAgent(a: AgentPoll, delayMs: number): void {
    a.timer = setTimeout(() => this.runAgent(a), delayMs);
    a.timer.unref();
  }

  private runAgent(a: AgentPoll): void {
    a.timer = undefined;
    const checker = this.opts.agentChecker;
    if (a.abort.signal.aborted || !checker) return;
    this.scheduleAgent(a, a.target.intervalMs);
    if (a.isRunning) return;
    a.isRunning = true;
    checker({ address: a.target.address, port: a.target.port, timeoutMs: a.target.timeoutMs, send: a.target.send, signal: a.abort.signal })
      .catch(() => null)
      .then((report) => {
        a.isRunning = false;
        if (report && !a.abort.signal.aborted) this.onAgent(a, report);
      });
  }

  private onAgent(a: AgentPoll, report: AgentReport): void {
    a.last = { ...report, at: Date.now() };
    for (const k of a.subscribers) {
      const was = this.feedback.get(k) ?? {};
      const next: Feedback = { ...was };
      if (report.weightPercent !== undefined) next.weightPercent = report.weightPercent;
      if (report.admin) next.admin = report.admin === 'ready' ? undefined : report.admin;
      if (report.health) next.agentHealth = report.health === 'up' ? undefined : 'down';
      if (next.weightPercent !== was.weightPercent || next.admin !== was.admin || next.agentHealth !== was.agentHealth) this.setFeedback(k, next);
    }
  }
}

function canonical(address: string): string {
  try {
    return ipaddr.process(address).toNormalizedString();
  } catch {
    return address;
  }
}
