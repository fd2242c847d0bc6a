/**
 * The check runner in the monitor's own child process (runner-child.ts), as the engine runs it: the engine's process
 * keeps the monitor's view (monitor.ts: which checks, who hears of them, health as last reported) and this side of
 * the channel; the child runs the checks at a lower CPU priority, so that on a saturated appliance the proxy's
 * workers and the engine come first (runner-child.ts says what that costs the checks).
 *
 *   engine process                                   monitor child (nice 10)
 *   ProcessRunner ── { op: 'set', change } ────────► CheckRunner: schedule, checkers, rise/fall
 *                 ── { op: 'runNow' } ─────────────►
 *                 ── { op: 'refresh', id } ────────►
 *                 ◄─ { op: 'ready' } ───────────────  started: the full set of checks follows
 *                 ◄─ { op: 'events', … } ───────────  transitions, dynamic weights, agent replies (one message per
 *                                                     I/O turn of the child)
 *                 ◄─ { op: 'results', id, … } ──────  last results since the previous refresh, schedule stats
 *
 * Check and agent ids (long, canonical JSON) cross the channel once, in `set`; everything else names them by a short
 * handle. A child that dies is started again after RestartBackoff's wait (100 ms doubling to 30 s, reset after a
 * stable minute), logged with how it ended; meanwhile checks pause and every server keeps the health last reported
 * (nothing goes down because the checker did). The new child is given every check with that health and starts each
 * at a random offset again, its rise and fall counts from zero.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RestartBackoff, exitText } from '../l7/lifecycle.ts';
import type { CheckResult } from './status.ts';
import type { ScheduleStats } from './schedule.ts';
import type { AgentSpec, CheckSpec, Runner, RunnerChange, RunnerEvents } from './runner.ts';
import type { AgentReport } from './types.ts';
import type { HealthState } from '../config/index.ts';

const IS_SOURCE = import.meta.url.endsWith('.ts');
const CHILD_ENTRY = fileURLToPath(new URL(IS_SOURCE ? './runner-child.ts' : './runner-child.js', import.meta.url));
/**
 * A refresh the child does not answer in this long resolves with what this side has: the engine's status waits for
 * it, and a child starved on a saturated machine (runner-child.ts) must not hold the console's overview up; the
 * last results then shown are a few seconds older, the health itself is current (it comes with every transition).
 */
const REFRESH_TIMEOUT_MS = 500;

export type ToChild = { op: 'set'; change: RunnerChange } | { op: 'runNow' } | { op: 'refresh'; id: number };

/** [handle, health, code, isPass, message, durationMs, at] */
export type WireTransition = [string, HealthState, CheckResult['code'], boolean, string, number, number];
/** [handle, code, isPass, message (null: as last sent), durationMs, at] */
export type WireResult = [string, CheckResult['code'], boolean, string | null, number, number];

export type FromChild =
  | { op: 'ready'; nice: number; niceProblem?: string }
  | { op: 'events'; transitions: WireTransition[]; weights: [string, number | null][]; agents: [string, AgentReport, number][] }
  | { op: 'results'; id: number; results: WireResult[]; stats: ScheduleStats };

export interface ProcessRunnerOptions {
  events: RunnerEvents;
  /** The child's niceness (default 10, or FULCRUM_HEALTH_NICE). */
  nice?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export class ProcessRunner implements Runner {
  private child?: ChildProcess;
  private isReady = false;
  private isClosed = false;
  private startedAt = 0;
  private restartTimer?: NodeJS.Timeout;
  private readonly backoff = new RestartBackoff();
  /** The checks and agents the child should run, with each check's health as last reported (for a restart). */
  private readonly checks = new Map<string, CheckSpec>();
  private readonly agents = new Map<string, AgentSpec>();
  private readonly handles = new Map<string, string>();
  private readonly ids = new Map<string, string>();
  private nextHandle = 1;
  private readonly last = new Map<string, { result: CheckResult; at: number }>();
  private nextRefresh = 1;
  private readonly refreshes = new Map<number, (stats: ScheduleStats | undefined) => void>();

  /** The child starts with the first check or agent (an engine with nothing to check has no child). */
  constructor(private readonly opts: ProcessRunnerOptions) {}

  set(change: RunnerChange): void {
    if (this.isClosed) return;
    for (const s of change.add) this.checks.set(s.id, s);
    for (const a of change.addAgents) this.agents.set(a.id, a);
    const wire: RunnerChange = {
      add: change.add.map((s) => ({ ...s, id: this.handle(s.id), carryFrom: s.carryFrom !== undefined ? this.handles.get(s.carryFrom) : undefined })),
      addAgents: change.addAgents.map((a) => ({ ...a, id: this.handle(a.id) })),
      remove: change.remove.map((id) => this.handles.get(id)).filter((h): h is string => h !== undefined),
      removeAgents: change.removeAgents.map((id) => this.handles.get(id)).filter((h): h is string => h !== undefined),
    };
    for (const id of [...change.remove, ...change.removeAgents]) {
      this.checks.delete(id);
      this.agents.delete(id);
      this.last.delete(id);
      const h = this.handles.get(id);
      this.handles.delete(id);
      if (h !== undefined) this.ids.delete(h);
    }
    // Before the child is ready, it is given the whole set when it is (see onReady).
    if (this.isReady) this.send({ op: 'set', change: wire });
    else if (!this.child && !this.restartTimer && (this.checks.size > 0 || this.agents.size > 0)) this.start();
  }

  runNow(): void {
    if (this.isReady) this.send({ op: 'runNow' });
  }

  lastOf(id: string): { result: CheckResult; at: number } | undefined {
    return this.last.get(id);
  }

  refresh(): Promise<ScheduleStats | undefined> {
    if (!this.isReady) return Promise.resolve(undefined);
    const id = this.nextRefresh++;
    return new Promise((resolve) => {
      // Not unref'd: whoever awaits the answer is owed one, even if nothing else keeps this process alive.
      const timer = setTimeout(() => done(undefined), REFRESH_TIMEOUT_MS);
      const done = (stats: ScheduleStats | undefined) => {
        clearTimeout(timer);
        this.refreshes.delete(id);
        resolve(stats);
      };
      this.refreshes.set(id, done);
      this.send({ op: 'refresh', id });
    });
  }

  close(): void {
    this.isClosed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    for (const done of [...this.refreshes.values()]) done(undefined);
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }

  private handle(id: string): string {
    let h = this.handles.get(id);
    if (h === undefined) {
      h = String(this.nextHandle++);
      this.handles.set(id, h);
      this.ids.set(h, id);
    }
    return h;
  }

  private start(): void {
    const nice = this.opts.nice ?? (Number(process.env.FULCRUM_HEALTH_NICE ?? 10) || 0);
    const hasLoader = process.execArgv.some((a) => a.includes('tsx')) || (process.env.NODE_OPTIONS ?? '').includes('tsx');
    const child = fork(CHILD_ENTRY, [], {
      // The engine's own flags (a loader, --cpu-prof), but not its debugger's port, which only one process can hold.
      execArgv: [...process.execArgv.filter((a) => !a.startsWith('--inspect')), ...(IS_SOURCE && !hasLoader ? ['--import', 'tsx'] : [])],
      env: { ...process.env, FULCRUM_HEALTH_NICE: String(nice) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    this.isReady = false;
    this.startedAt = performance.now();
    // The engine's own work keeps it alive; the monitor's child alone must not.
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
    child.on('message', (m: FromChild) => this.onMessage(m));
    child.on('error', (e) => this.opts.log?.('error', `the health monitor process failed: ${e.message}`, { pid: child.pid }));
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private onExit(child: ChildProcess, code: number | null, signal: string | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.isReady = false;
    for (const done of [...this.refreshes.values()]) done(undefined);
    if (this.isClosed) return;
    const delay = this.backoff.next(performance.now() - this.startedAt);
    this.opts.log?.(
      'error',
      `health monitor process ${child.pid} ${exitText(code, signal)}; checks pause (servers keep the health last reported) and it starts again in ${delay} ms`,
      { pid: child.pid, code, signal, restartInMs: delay, crashesInARow: this.backoff.crashesInARow },
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.isClosed) this.start();
    }, delay);
    this.restartTimer.unref();
  }

  private send(m: ToChild): void {
    try {
      this.child?.send(m);
    } catch (e) {
      // The channel closed under us: the exit handler restarts the child, which is then given everything.
      this.opts.log?.('warn', `could not reach the health monitor process: ${(e as Error).message}`);
    }
  }

  private onMessage(m: FromChild): void {
    if (m.op === 'ready') return this.onReady(m);
    if (m.op === 'events') {
      for (const [h, health, code, isPass, message, durationMs, at] of m.transitions) {
        const id = this.ids.get(h);
        const spec = id !== undefined ? this.checks.get(id) : undefined;
        if (!spec) continue;
        const result: CheckResult = { code, isPass, message, durationMs };
        const previous = spec.health;
        this.checks.set(id!, { ...spec, health, isWaitingFirstPass: false, carryFrom: undefined });
        this.last.set(id!, { result, at });
        this.opts.events.onTransition(id!, previous, health, result, at);
      }
      for (const [h, weight] of m.weights) {
        const id = this.ids.get(h);
        if (id !== undefined) this.opts.events.onWeight(id, weight ?? undefined);
      }
      for (const [h, report, at] of m.agents) {
        const id = this.ids.get(h);
        if (id !== undefined) this.opts.events.onAgent(id, report, at);
      }
      return;
    }
    for (const [h, code, isPass, message, durationMs, at] of m.results) {
      const id = this.ids.get(h);
      if (id === undefined) continue;
      const was = this.last.get(id);
      this.last.set(id, { result: { code, isPass, message: message ?? was?.result.message ?? '', durationMs }, at });
    }
    this.refreshes.get(m.id)?.(m.stats);
  }

  private onReady(m: Extract<FromChild, { op: 'ready' }>): void {
    this.isReady = true;
    if (m.niceProblem) this.opts.log?.('warn', `the health monitor process runs at the engine's CPU priority: ${m.niceProblem}`, { pid: this.child?.pid });
    // Everything, as this side knows it now: a first start, or a replacement after a crash.
    this.send({
      op: 'set',
      change: {
        add: [...this.checks.values()].map((s) => ({ ...s, id: this.handle(s.id), carryFrom: undefined })),
        addAgents: [...this.agents.values()].map((a) => ({ ...a, id: this.handle(a.id) })),
        remove: [],
        removeAgents: [],
      },
    });
  }
}
