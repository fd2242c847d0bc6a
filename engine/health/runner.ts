/**
 * The check runner: runs the checks and agents the monitor (monitor.ts) hands it, each on its schedule
 * (schedule.ts), and applies rise and fall to each check's results. It knows checks by id only — no services, no
 * servers, no allowed networks: the monitor decides what is checked and who hears of it. It runs inside the engine's
 * process (tests, and checkers given in-process) or alone in the monitor's child process (runner-process.ts,
 * runner-child.ts), where it is the only thing that runs per check.
 *
 * State per check (HAProxy's rise/fall):
 *
 *     state   │ pass                                │ fail
 *     ────────┼─────────────────────────────────────┼──────────────────────────────────
 *     unknown │ → up                                │ fall consecutive → down
 *     up      │ stays up                            │ fall consecutive → down
 *     down    │ rise consecutive → up (1 while the  │ stays down
 *             │ service starts down and none passed)│
 *
 * It reports transitions (and an external check's dynamic weight when it changes, and every agent reply) through
 * RunnerEvents as they happen; the monitor batches them.
 */
import type { HealthState } from '../config/index.ts';
import type { CheckResult } from './status.ts';
import { result } from './status.ts';
import { Schedule, type Placement, type ScheduleStats, type Slot } from './schedule.ts';
import type { AgentChecker, AgentReport, AgentTarget, Checker, CheckTarget } from './types.ts';
import type { CheckKind } from './monitor.ts';

/** One check as the monitor asks for it. `carryFrom`: the check it replaces (same target, new settings). */
export interface CheckSpec {
  id: string;
  kind: CheckKind;
  target: Omit<CheckTarget, 'signal'>;
  health: HealthState;
  isWaitingFirstPass: boolean;
  carryFrom?: string;
}

export interface AgentSpec {
  id: string;
  target: Omit<AgentTarget, 'signal'> & { intervalMs: number };
}

/** What changes in one update: checks and agents to start, ids to stop. Starts are placed at random offsets. */
export interface RunnerChange {
  add: CheckSpec[];
  remove: string[];
  addAgents: AgentSpec[];
  removeAgents: string[];
}

export interface RunnerEvents {
  onTransition(id: string, previous: HealthState, health: HealthState, r: CheckResult, at: number): void;
  onWeight(id: string, weight: number | undefined): void;
  onAgent(id: string, report: AgentReport, at: number): void;
}

/** The runner as the monitor uses it, in this process (CheckRunner) or in the child (ProcessRunner). */
export interface Runner {
  set(change: RunnerChange): void;
  runNow(): void;
  /** A check's last result and its time (ms since the epoch); the process runner's copy is as of refresh(). */
  lastOf(id: string): { result: CheckResult; at: number } | undefined;
  /** Brings lastOf() up to date (a round trip to the child) and says how the schedule kept up since the last call. */
  refresh(): Promise<ScheduleStats | undefined>;
  close(): void;
}

class Check {
  slot?: Slot<Check>;
  successes = 0;
  failures = 0;
  isRunning = false;
  isStopped = false;
  last?: CheckResult;
  lastAt?: number;
  weight?: number;
  readonly abort = new AbortController();
  readonly probe: CheckTarget;
  readonly isDynamicWeight: boolean;
  constructor(
    readonly id: string,
    readonly kind: CheckKind,
    target: CheckSpec['target'],
    public health: HealthState,
    public isWaitingFirstPass: boolean,
  ) {
    this.probe = { ...target, signal: this.abort.signal };
    this.isDynamicWeight = target.check.type === 'external' && !!target.check.external?.isDynamicWeight;
  }
}

class Agent {
  timer?: NodeJS.Timeout;
  isRunning = false;
  readonly abort = new AbortController();
  readonly probe: AgentTarget;
  constructor(
    readonly id: string,
    readonly target: AgentSpec['target'],
  ) {
    this.probe = { address: target.address, port: target.port, timeoutMs: target.timeoutMs, send: target.send, signal: this.abort.signal };
  }
}

export interface CheckRunnerOptions {
  checkers: Record<CheckKind, Checker>;
  agentChecker?: AgentChecker;
  random?: () => number;
  events: RunnerEvents;
}

export class CheckRunner implements Runner {
  private readonly checks = new Map<string, Check>();
  private readonly agents = new Map<string, Agent>();
  private readonly schedule = new Schedule<Check>((c, at) => this.run(c, at));
  private readonly random: () => number;
  /** Checks with a result since the last takeResults() (the child's refresh answer). */
  private readonly fresh = new Set<Check>();
  private isClosed = false;

  constructor(private readonly opts: CheckRunnerOptions) {
    this.random = opts.random ?? Math.random;
  }

  set(change: RunnerChange): void {
    if (this.isClosed) return;
    const placed: Placement<Check> = new Map();
    for (const s of change.add) {
      if (this.checks.has(s.id)) continue;
      const c = new Check(s.id, s.kind, s.target, s.health, s.isWaitingFirstPass);
      this.checks.set(s.id, c);
      // The check it replaces knows better than the monitor's copy when a verdict was on its way to it.
      const from = s.carryFrom !== undefined ? this.checks.get(s.carryFrom) : undefined;
      if (from && from.health !== 'unknown' && from.health !== c.health && from.last) {
        const was = c.health;
        c.health = from.health;
        c.isWaitingFirstPass = false;
        this.opts.events.onTransition(c.id, was, c.health, from.last, from.lastAt!);
      }
      this.schedule.place(c, c.probe.check.intervalMs, this.random() * c.probe.check.intervalMs, placed);
    }
    for (const id of change.remove) {
      const c = this.checks.get(id);
      if (!c) continue;
      this.schedule.unplace(c);
      c.isStopped = true;
      c.abort.abort();
      this.checks.delete(id);
      this.fresh.delete(c);
    }
    for (const s of change.addAgents) {
      if (this.agents.has(s.id)) continue;
      const a = new Agent(s.id, s.target);
      this.agents.set(s.id, a);
      this.scheduleAgent(a, this.random() * s.target.intervalMs);
    }
    for (const id of change.removeAgents) {
      const a = this.agents.get(id);
      if (!a) continue;
      this.stopAgent(a);
      this.agents.delete(id);
    }
  }

  /** Runs every check (and agent) now instead of at its next turn; the schedule then goes on from now. */
  runNow(): void {
    const placed: Placement<Check> = new Map();
    const at = Date.now();
    for (const c of this.checks.values()) {
      this.schedule.unplace(c);
      this.schedule.place(c, c.probe.check.intervalMs, c.probe.check.intervalMs, placed);
      this.run(c, at);
    }
    for (const a of this.agents.values()) {
      if (a.timer) clearTimeout(a.timer);
      this.runAgent(a);
    }
  }

  lastOf(id: string): { result: CheckResult; at: number } | undefined {
    const c = this.checks.get(id);
    return c?.last ? { result: c.last, at: c.lastAt! } : undefined;
  }

  refresh(): Promise<ScheduleStats | undefined> {
    return Promise.resolve(this.schedule.takeStats());
  }

  /** The checks with a new result since the last call (the child sends them to the monitor on refresh). */
  takeResults(): { id: string; result: CheckResult; at: number }[] {
    const out = [...this.fresh].map((c) => ({ id: c.id, result: c.last!, at: c.lastAt! }));
    this.fresh.clear();
    return out;
  }

  close(): void {
    this.isClosed = true;
    for (const c of this.checks.values()) {
      this.schedule.unplace(c);
      c.isStopped = true;
      c.abort.abort();
    }
    for (const a of this.agents.values()) this.stopAgent(a);
    this.checks.clear();
    this.agents.clear();
  }

  private run(c: Check, at: number): void {
    if (c.isStopped || c.isRunning) return;
    c.isRunning = true;
    this.opts.checkers[c.kind](c.probe).then(
      (r) => this.settle(c, r, at),
      (e: Error) => this.settle(c, result('L4CON', { target: c.probe.address, reason: `the check failed unexpectedly: ${e.message}` }, 0), at),
    );
  }

  private settle(c: Check, r: CheckResult, startedAt: number): void {
    c.isRunning = false;
    if (!c.isStopped) this.onResult(c, r, startedAt + Math.round(r.durationMs));
  }

  private onResult(c: Check, r: CheckResult, at: number): void {
    c.last = r;
    c.lastAt = at;
    this.fresh.add(c);
    const previous = c.health;
    let next = previous;
    if (r.isPass) {
      c.failures = 0;
      c.successes++;
      if (previous === 'unknown') next = 'up';
      else if (previous === 'down' && c.successes >= (c.isWaitingFirstPass ? 1 : c.probe.check.rise)) next = 'up';
    } else {
      c.successes = 0;
      c.failures++;
      if (previous !== 'down' && c.failures >= c.probe.check.fall) next = 'down';
    }
    if (c.isDynamicWeight) {
      const weight = r.isPass ? r.weight : undefined;
      if (weight !== c.weight) {
        c.weight = weight;
        this.opts.events.onWeight(c.id, weight);
      }
    }
    if (next === previous) return;
    c.health = next;
    c.isWaitingFirstPass = false;
    this.opts.events.onTransition(c.id, previous, next, r, at);
  }

  private stopAgent(a: Agent): void {
    if (a.timer) clearTimeout(a.timer);
    a.timer = undefined;
    a.abort.abort();
  }

  private scheduleAgent(a: Agent, delayMs: number): void {
    a.timer = setTimeout(() => this.runAgent(a), delayMs);
    a.timer.unref();
  }

  private runAgent(a: Agent): void {
    a.timer = undefined;
    const checker = this.opts.agentChecker;
    if (a.abort.signal.aborted || !checker) return;
    this.scheduleAgent(a, a.target.intervalMs);
    if (a.isRunning) return;
    a.isRunning = true;
    void checker(a.probe)
      .catch(() => null)
      .then((report) => {
        a.isRunning = false;
        if (report && !a.abort.signal.aborted) this.opts.events.onAgent(a.id, report, Date.now());
      });
  }
}
