/**
 * The health monitor: turns a configuration into checks, hands them to a runner (runner.ts) that runs them and
 * applies rise and fall, and reports transitions and feedback to the engine, which hands them to
 * engine/server-state.ts (the one decision). It never touches a data plane itself.
 *
 *   engine ── update(config) ──► monitor (this file: which checks, who hears of them, health as last reported)
 *                                   │ set(add, remove) / runNow          ▲ transitions, weights, agent replies (by id)
 *                                   ▼                                    │
 *                                runner: in this process (CheckRunner), or the monitor's own child process at a
 *                                lower CPU priority (ProcessRunner ⇄ runner-child.ts), which the engine uses
 *
 * - One check per distinct target and settings: two services that check 10.0.0.61:80 the same way share one
 *   check, its state and its traffic (keepalived and HAProxy would probe twice).
 * - Each check starts at a random offset within its interval, so 2,000 checks do not fire together (schedule.ts).
 * - A new check starts `unknown` (counted as up), or `down` when the service sets startsDown. When a new
 *   configuration changes a server's check settings but not its target, the server keeps the health it had (a dead
 *   server does not come back into rotation because someone changed its interval); its counters start again.
 * - Health is known here at once (healthOf answers from this process, right after update): the runner only reports
 *   changes. The last result's sentence and time are the runner's (lastOf; the child's copy comes with refresh()).
 * - A feedback agent (HAProxy agent-check) runs beside any kind, on its own schedule, shared the same way; what it
 *   says lasts until it says otherwise (`ready` clears drain/maint, `up` clears down, a new percentage replaces the
 *   old); an unreachable agent changes nothing.
 * - Targets outside `allowedNetworks` are never handed to the runner: the server is reported "not checked" and
 *   stays unknown.
 */
import ipaddr from 'ipaddr.js';
import type { Config, HealthCheck, HealthCheckType, HealthState, RealServer, VirtualService } from '../config/index.ts';
import { canonicalAddress } from '../config/address.ts';
import { expandPorts } from '../config/ports.ts';
import { serverKey, type ServerCheckStatus, type ServerKey } from '../dataplane.ts';
import type { Feedback } from '../server-state.ts';
import { targetText, type CheckResult } from './status.ts';
import type { HealthTransitionEvent } from '../api-types.ts';
import type { AgentChecker, AgentReport, Checker, CheckTarget } from './types.ts';
import { CheckRunner, type AgentSpec, type CheckSpec, type Runner, type RunnerEvents } from './runner.ts';
import { ProcessRunner } from './runner-process.ts';
import type { ScheduleStats } from './schedule.ts';

export type CheckKind = Exclude<HealthCheckType, 'none'>;

/** A transition as the monitor sees it: the engine's event (api-types.ts) before it is numbered, with its key. */
export type MonitorTransition = Omit<HealthTransitionEvent, 'type' | 'seq' | 'check'> & { key: ServerKey; check: CheckKind };

export interface MonitorOptions {
  /**
   * Where checks run: 'inline' in this process with `checkers` (tests hand in their own), 'process' in the monitor's
   * child process with the engine's own checkers (runner-process.ts), which is what the engine does.
   */
  runner?: 'inline' | 'process';
  checkers?: Record<CheckKind, Checker>;
  agentChecker?: AgentChecker;
  /** The child's niceness ('process' only; runner-child.ts says why and what it means under load). */
  nice?: number;
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

/** One check as this side knows it: what it checks, who hears of it, and its health as last reported. */
class CheckState {
  since: number;
  isWaitingFirstPass: boolean;
  /** An external check's dynamic weight as last reported. */
  weight?: number;
  readonly subscribers = new Map<ServerKey, Subscriber>();
  constructor(
    readonly id: string,
    readonly kind: CheckKind,
    readonly target: Omit<CheckTarget, 'signal'>,
    readonly targetText: string,
    public health: HealthState,
    since: number,
  ) {
    this.since = since;
    this.isWaitingFirstPass = health === 'down' && target.check.startsDown;
  }
}

class AgentState {
  last?: AgentReport & { at: number };
  readonly subscribers = new Set<ServerKey>();
  constructor(
    readonly id: string,
    readonly target: AgentSpec['target'],
  ) {}
}

/** Where a server's health comes from: a check, or a sentence saying why it is not checked. */
type Ref = { check: CheckState; type: CheckKind } | { note: string; type: HealthCheckType; target: string };

export class HealthMonitor {
  private checks = new Map<string, CheckState>();
  private agents = new Map<string, AgentState>();
  private refs = new Map<ServerKey, Ref>();
  private agentOf = new Map<ServerKey, AgentState>();
  /** Feedback per server: the agent's lasting words and an external check's dynamic weight. */
  private readonly feedback = new Map<ServerKey, Feedback>();
  private pending: MonitorTransition[] = [];
  private pendingFeedback = new Set<ServerKey>();
  private isFlushQueued = false;
  private readonly allowed: [ipaddr.IPv4 | ipaddr.IPv6, number][] | undefined;
  private readonly startedAt = Date.now();
  private readonly runner: Runner;
  private isClosed = false;

  constructor(private readonly opts: MonitorOptions) {
    this.allowed = opts.allowedNetworks?.map((c) => ipaddr.parseCIDR(c));
    const events: RunnerEvents = {
      onTransition: (id, previous, health, r, at) => this.onTransition(id, health, r, at),
      onWeight: (id, weight) => this.onWeight(id, weight),
      onAgent: (id, report, at) => this.onAgent(id, report, at),
    };
    if (opts.runner === 'process') {
      if (opts.checkers || opts.agentChecker)
        throw new Error("the monitor's child process runs the engine's own checkers: checkers given in process need runner 'inline'");
      this.runner = new ProcessRunner({ events, nice: opts.nice, log: opts.log });
    } else {
      if (!opts.checkers) throw new Error("runner 'inline' needs checkers");
      this.runner = new CheckRunner({ checkers: opts.checkers, agentChecker: opts.agentChecker, random: opts.random, events });
    }
  }

  /** Checks for a new configuration: shared checks keep their state and schedule; others start or stop. */
  update(config: Config): void {
    if (this.isClosed) return;
    const before = new Map<ServerKey, CheckState>();
    for (const [key, ref] of this.refs) if ('check' in ref) before.set(key, ref.check);
    const checks = new Map<string, CheckState>();
    const agents = new Map<string, AgentState>();
    const refs = new Map<ServerKey, Ref>();
    const agentOf = new Map<ServerKey, AgentState>();
    const carry = new Map<string, string>();
    for (const vs of config.virtualServices) {
      if (!vs.isEnabled) continue;
      for (const rs of vs.realServers) {
        const sub: Subscriber = { key: serverKey(vs.name, rs.name), virtualService: vs.name, realServer: rs.name };
        refs.set(sub.key, this.refFor(vs, rs, sub, checks, before, carry));
        const agent = vs.healthCheck.agent;
        if (agent && this.isAllowed(rs.address)) {
          const t = { address: rs.address, port: agent.port, timeoutMs: agent.timeoutMs, intervalMs: agent.intervalMs, send: agent.send };
          const id = JSON.stringify(t);
          let a = agents.get(id) ?? this.agents.get(id);
          if (!a) a = new AgentState(id, t);
          agents.set(id, a);
          a.subscribers.add(sub.key);
          agentOf.set(sub.key, a);
        }
      }
    }
    const add: CheckSpec[] = [];
    for (const c of checks.values()) {
      if (this.checks.has(c.id)) continue;
      const from = carry.get(c.id);
      add.push({
        id: c.id,
        kind: c.kind,
        target: c.target,
        health: c.health,
        isWaitingFirstPass: c.isWaitingFirstPass,
        carryFrom: from && !checks.has(from) ? from : undefined,
      });
    }
    const remove = [...this.checks.keys()].filter((id) => !checks.has(id));
    const addAgents = [...agents.values()].filter((a) => !this.agents.has(a.id)).map((a) => ({ id: a.id, target: a.target }));
    const removeAgents = [...this.agents.keys()].filter((id) => !agents.has(id));
    // Subscribers that left a shared check or agent.
    for (const c of checks.values())
      for (const k of c.subscribers.keys()) if ((refs.get(k) as { check?: CheckState } | undefined)?.check !== c) c.subscribers.delete(k);
    for (const a of agents.values()) for (const k of a.subscribers) if (agentOf.get(k) !== a) a.subscribers.delete(k);
    for (const k of this.feedback.keys()) if (!refs.has(k)) this.feedback.delete(k);
    for (const [k, fb] of this.feedback)
      if (!agentOf.has(k) && (fb.admin || fb.weightPercent !== undefined || fb.agentHealth)) this.setFeedback(k, { dynamicWeight: fb.dynamicWeight });
    // A server that joins a dynamic-weight check already running takes its weight now, not at its next change.
    for (const c of checks.values()) {
      for (const k of c.subscribers.keys())
        if (this.feedback.get(k)?.dynamicWeight !== c.weight) this.setFeedback(k, { ...this.feedback.get(k), dynamicWeight: c.weight });
    }
    this.checks = checks;
    this.agents = agents;
    this.refs = refs;
    this.agentOf = agentOf;
    this.runner.set({ add, remove, addAgents, removeAgents });
  }

  private refFor(
    vs: VirtualService,
    rs: RealServer,
    sub: Subscriber,
    checks: Map<string, CheckState>,
    before: Map<ServerKey, CheckState>,
    carry: Map<string, string>,
  ): Ref {
    const hc = vs.healthCheck;
    const vipPort = expandPorts(vs.ports)[0];
    const port = hc.type === 'ping' ? undefined : (rs.healthCheck?.port ?? hc.port ?? rs.port ?? vipPort);
    const target = targetText(rs.address, port);
    if (hc.type === 'none') return { type: 'none', target, note: 'Health checks are off for this service.' };
    if (hc.type !== 'ping' && port === undefined)
      return { type: hc.type, target, note: 'Not checked: the service has no port of its own; give the check a port.' };
    if (!this.isAllowed(rs.address))
      return {
        type: hc.type,
        target,
        note: `Not checked: ${rs.address} is outside the networks this engine may probe (${this.opts.allowedNetworks!.join(', ')}).`,
      };
    const own = rs.healthCheck ?? {};
    const check: HealthCheck = {
      ...hc,
      agent: undefined,
      onDown: 'quiesce',
      intervalMs: own.intervalMs ?? hc.intervalMs,
      timeoutMs: own.timeoutMs ?? hc.timeoutMs,
      rise: own.rise ?? hc.rise,
      fall: own.fall ?? hc.fall,
      port,
    };
    if (check.timeoutMs > check.intervalMs) check.timeoutMs = check.intervalMs;
    const id = JSON.stringify([canonicalAddress(rs.address), check, hc.type === 'external' ? [vs.address, vipPort] : null]);
    let c = checks.get(id) ?? this.checks.get(id);
    if (!c) {
      const was = before.get(sub.key);
      const isCarried = was !== undefined && was.targetText === target && was.health !== 'unknown';
      c = new CheckState(
        id,
        hc.type,
        { address: rs.address, port, vip: vs.address, vipPort, check },
        target,
        isCarried ? was.health : hc.startsDown ? 'down' : 'unknown',
        isCarried ? was.since : Date.now(),
      );
      if (isCarried) carry.set(id, was.id);
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

  /** A server's check as the console shows it; with the child process, its last results are as of refresh(). */
  statusOf(key: ServerKey): ServerCheckStatus | undefined {
    const ref = this.refs.get(key);
    if (!ref) return undefined;
    const agent = this.agentOf.get(key)?.last;
    const agentStatus = agent
      ? { weightPercent: agent.weightPercent, admin: agent.admin, health: agent.health, message: agent.message, at: new Date(agent.at).toISOString() }
      : undefined;
    if ('note' in ref)
      return {
        type: ref.type,
        target: ref.target,
        health: 'unknown',
        since: new Date(this.startedAt).toISOString(),
        code: 'NOCHK',
        message: ref.note,
        agent: agentStatus,
      };
    const c = ref.check;
    const last = this.runner.lastOf(c.id);
    const waiting = c.isWaitingFirstPass && !last ? 'Waiting for the first check to pass (this service starts its servers down).' : undefined;
    return {
      type: c.kind,
      target: c.targetText,
      health: c.health,
      since: new Date(c.since).toISOString(),
      code: last?.result.code,
      message: last?.result.message ?? waiting,
      durationMs: last?.result.durationMs,
      lastCheckAt: last ? new Date(last.at).toISOString() : undefined,
      agent: agentStatus,
    };
  }

  /** Brings the last results statusOf() shows up to date; says how the schedule kept up since the last call. */
  refresh(): Promise<ScheduleStats | undefined> {
    return this.runner.refresh();
  }

  /** Runs every check (and agent) now instead of at its next turn; the schedule then goes on from now. */
  runNow(): void {
    this.runner.runNow();
  }

  /** How many distinct checks and agents run (tests and the benchmark read it). */
  get size(): { checks: number; agents: number } {
    return { checks: this.checks.size, agents: this.agents.size };
  }

  close(): void {
    this.isClosed = true;
    this.runner.close();
    this.checks.clear();
    this.agents.clear();
  }

  private onTransition(id: string, health: HealthState, r: CheckResult, at: number): void {
    const c = this.checks.get(id);
    // A check this configuration no longer has (its stop crossed the verdict on the way), or already known.
    if (!c || c.health === health) return;
    const previous = c.health;
    c.health = health;
    c.since = at;
    c.isWaitingFirstPass = false;
    const atText = new Date(at).toISOString();
    for (const s of c.subscribers.values()) {
      this.pending.push({
        ...s,
        previous,
        health,
        code: r.code,
        message: r.message,
        durationMs: r.durationMs,
        check: c.kind,
        target: c.targetText,
        at: atText,
      });
    }
    this.queueFlush();
  }

  private onWeight(id: string, weight: number | undefined): void {
    const c = this.checks.get(id);
    if (!c) return;
    c.weight = weight;
    for (const k of c.subscribers.keys()) {
      const fb = this.feedback.get(k);
      if (fb?.dynamicWeight !== weight) this.setFeedback(k, { ...fb, dynamicWeight: weight });
    }
  }

  private onAgent(id: string, report: AgentReport, at: number): void {
    const a = this.agents.get(id);
    if (!a) return;
    a.last = { ...report, at };
    for (const k of a.subscribers) {
      const was = this.feedback.get(k) ?? {};
      const next: Feedback = { ...was };
      if (report.weightPercent !== undefined) next.weightPercent = report.weightPercent;
      if (report.admin) next.admin = report.admin === 'ready' ? undefined : report.admin;
      if (report.health) next.agentHealth = report.health === 'up' ? undefined : 'down';
      if (next.weightPercent !== was.weightPercent || next.admin !== was.admin || next.agentHealth !== was.agentHealth) this.setFeedback(k, next);
    }
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
}
