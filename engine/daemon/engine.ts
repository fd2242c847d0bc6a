/**
 * The engine's core, apart from its transport: the running configuration, the decision of every real server's
 * state (via server-state.ts), and the data planes that obey it.
 *
 * Apply: parse with the one schema → the health monitor takes the new checks → decide server states → each data
 * plane applies → if any service failed, the previous configuration (and its checks) is applied again and the answer
 * says why. The running configuration is recorded in the data directory (owner-only; record.ts: a whole record and a
 * journal of what each apply changed) before the apply is answered, so a restarted engine reconciles the kernel and
 * the proxy to it without flushing.
 *
 * Health: the monitor (engine/health/monitor.ts) reports transitions and feedback; the engine decides again through
 * server-state.ts and tells each data plane only what changed (one IPVS operation, an in-place pool update at layer
 * 7; nothing reloads). Transitions go out as 'health' events and stay in a bounded log the console catches up from.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { ConfigSchema, createConfigParser, type Config, type OperatorState } from '../config/index.ts';
import type { ServerDecision } from '../server-state.ts';
import { serverKey, type DataPlane, type ServerKey, type ServiceResult, type ServiceStatus } from '../dataplane.ts';
import { EngineError, fieldIssues } from '../errors.ts';
import { SerialQueue } from '../serial.ts';
import { LatestRead } from '../latest-read.ts';
import { canonicalParts, configHashOfParts } from '../canonical.ts';
import { RunningRecord } from './record.ts';
import { createDecider } from './decisions.ts';
import { mapPrivateKeys, open, seal, secretKey } from '../secrets.ts';
import type { ApplyOutcome, ApplyResponse, EngineEvent, EngineStatus, HaStandby, HealthTransitionEvent } from '../api-types.ts';
import { HealthMonitor, type MonitorOptions, type MonitorTransition } from '../health/monitor.ts';
import { defaultAgentChecker, defaultCheckers } from '../health/index.ts';
import { HaManager, dataPlaneProblems, type HaOptions } from '../ha/index.ts';
import type { L7DataPlane } from '../l7/index.ts';

/** How many apply outcomes the engine remembers (by version) for a console that lost an answer. */
const OUTCOME_LOG_SIZE = 200;

/** How many health transitions the engine keeps for a console that was away (about a day of a busy flapping pair). */
const TRANSITION_LOG_SIZE = 5000;

export interface EngineOptions {
  statsIntervalMs?: number;
  /**
   * Health monitor settings. `allowedNetworks` defaults to FULCRUM_HEALTH_ALLOWED_NETWORKS (comma-separated CIDRs),
   * unset meaning any address; tests narrow it to loopback so no check ever leaves the machine.
   */
  health?: Partial<Pick<MonitorOptions, 'checkers' | 'agentChecker' | 'allowedNetworks' | 'random' | 'nice'>>;
  /** High availability (engine/ha/): keepalived's path, this node's name, the socket its track script asks. */
  ha?: Partial<Omit<HaOptions, 'dataDir' | 'log' | 'onEvent'>>;
}

export function allowedNetworksFromEnv(value = process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS): string[] | undefined {
  const list = value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list && list.length > 0 ? list : undefined;
}

export type EngineLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

interface Running {
  version: number;
  hash: string;
  appliedAt: string;
  config: Config;
  results: ServiceResult[];
}

/** How long a status waits for the kernel before it answers with what was read last (latest-read.ts). */
const STATUS_KERNEL_WAIT_MS = 1000;

/** Every data plane's counters, by service name (DataPlane.counters(), merged). */
type Counters = Awaited<ReturnType<DataPlane['counters']>>;

export class Engine extends EventEmitter<{ event: [EngineEvent] }> {
  readonly startedAt = new Date().toISOString();
  private running: Running | null = null;
  /** ConfigSchema's parse, remembering each service's (memo-parse.ts): an apply re-parses only what changed. */
  private readonly parseConfig = createConfigParser();
  private readonly decide = createDecider();
  private readonly monitor: HealthMonitor;
  private readonly transitions: HealthTransitionEvent[] = [];
  private seq = 0;
  /** Serialises applies and state changes: the data planes see one change at a time. */
  private readonly queue = new SerialQueue();
  /** What runs, recorded (record.ts): a whole record and a journal of changes since. */
  private readonly record: RunningRecord;
  private readonly outcomesPath: string;
  private readonly outcomes = new Map<number, ApplyOutcome>();
  /** Versions the last engine left 'applying' (it stopped during their apply). */
  private readonly interrupted = new Set<number>();
  private statsTimer: NodeJS.Timeout | null = null;
  private isSendingStats = false;
  private readonly statsIntervalMs: number;
  /** keepalived and the sync daemon (engine/ha/): given every configuration before the data planes, in program(). */
  private readonly ha: HaManager;
  private haStandby: HaStandby | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly dataPlanes: DataPlane[],
    private readonly log: EngineLog,
    opts: EngineOptions = {},
  ) {
    super();
    this.record = new RunningRecord(path.join(dataDir, 'engine-running.json'));
    this.outcomesPath = path.join(dataDir, 'engine-applies.json');
    try {
      for (const o of JSON.parse(fs.readFileSync(this.outcomesPath, 'utf8')) as ApplyOutcome[]) {
        // One that was under way when the last engine died did not finish: this engine reconciles to the recorded version.
        // (Unless it is the recorded one: killed after recording it, before saying so; start() says it runs.)
        if (o.status === 'applying') this.interrupted.add(o.version);
        this.outcomes.set(
          o.version,
          o.status === 'applying' ? { ...o, status: 'failed', message: 'The engine stopped while applying it; the version recorded before it runs.' } : o,
        );
      }
    } catch {
      // first start, or an unreadable record: outcomes start empty (the running version is in engine-running.json)
    }
    this.statsIntervalMs = opts.statsIntervalMs ?? 2000;
    // Layer 7 stick tables travel to the HA peer and back (ha/stick-sync.ts), so a client keeps its real server.
    const l7 = dataPlanes.find((d): d is L7DataPlane => 'mergeStick' in d);
    this.ha = new HaManager({
      ...opts.ha,
      dataDir,
      log,
      onEvent: (e) => this.emit('event', e),
      ...(l7 ? { onStickEntry: (t, k, e) => l7.mergeStick(t, k, e), stickEntries: () => l7.stickEntries() } : {}),
    });
    l7?.onStick((t, k, e) => this.ha.replicateStick(t, k, e));
    const h = opts.health ?? {};
    // Checks run in the monitor's own child process at a lower CPU priority (health/runner-process.ts), unless a
    // test hands in checkers of its own, which run in this process.
    const isInline = !!(h.checkers || h.agentChecker);
    this.monitor = new HealthMonitor({
      ...(isInline
        ? { runner: 'inline', checkers: { ...defaultCheckers, ...h.checkers }, agentChecker: h.agentChecker ?? defaultAgentChecker }
        : { runner: 'process', nice: h.nice }),
      allowedNetworks: 'allowedNetworks' in h ? h.allowedNetworks : allowedNetworksFromEnv(),
      random: h.random,
      log,
      onTransitions: (t) => void this.onHealthTransitions(t),
      onFeedback: (keys) => void this.onHealthChange(keys),
    });
    // Counters go to the event stream as a 'stats' event every interval, but only while someone listens.
    const self = this as EventEmitter;
    self.on('newListener', (name: string | symbol) => {
      if (name === 'event' && this.statsTimer === null) this.statsTimer = setInterval(() => void this.sendStats(), this.statsIntervalMs).unref();
    });
    self.on('removeListener', (name: string | symbol) => {
      if (name === 'event' && this.listenerCount('event') === 0) this.stopStats();
    });
  }

  private stopStats(): void {
    if (this.statsTimer !== null) clearInterval(this.statsTimer);
    this.statsTimer = null;
  }

  private async sendStats(): Promise<void> {
    if (this.isSendingStats || this.running === null) return;
    this.isSendingStats = true;
    try {
      const { services } = await this.status();
      this.emit('event', { type: 'stats', at: new Date().toISOString(), services });
    } catch (e) {
      this.log('warn', 'could not collect counters for the event stream', { error: (e as Error).message });
    } finally {
      this.isSendingStats = false;
    }
  }

  /** Reconcile to the recorded configuration, if any. */
  async start(): Promise<void> {
    try {
      const saved = this.record.read();
      if (!saved) return;
      const key = secretKey(this.dataDir);
      const config = ConfigSchema.parse(mapPrivateKeys(saved.config, (pem, ctx) => open(key, pem, ctx)));
      this.monitor.update(config);
      const results = await this.program(config);
      this.running = { ...saved, config, results };
      // The last engine recorded this version and was killed before its outcome said 'applied': it runs now.
      if (this.interrupted.has(saved.version) && this.outcomes.get(saved.version)?.hash === saved.hash)
        this.recordOutcome({ version: saved.version, hash: saved.hash, status: 'applied' });
      this.log('info', 'reconciled to the recorded configuration', { version: saved.version, hash: saved.hash });
    } catch (e) {
      this.log('error', 'could not reconcile to the recorded configuration', { error: (e as Error).message });
    }
  }

  private serialise<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn);
  }

  /** Every server's decision (decideAll's, remembered per service: decisions.ts). */
  decisions(config: Config): ReadonlyMap<ServerKey, ServerDecision> {
    return this.decide(
      config,
      (key) => this.monitor.healthOf(key),
      (key) => this.monitor.feedbackOf(key),
    );
  }

  /** `ms`, when given, gets the milliseconds of each step (the HA group, decisions, each data plane by name). */
  private async program(config: Config, ms?: Record<string, number>): Promise<ServiceResult[]> {
    let t = performance.now();
    const lap = (k: string) => {
      const now = performance.now();
      if (ms) ms[k] = Math.round((now - t) * 10) / 10;
      t = now;
    };
    await this.ha.apply(config);
    lap('ha');
    const decisions = this.decisions(config);
    lap('decisions');
    const results: ServiceResult[] = [];
    for (const dp of this.dataPlanes) {
      results.push(...(await dp.apply({ config, decisions })));
      lap(dp.name);
    }
    this.capabilitiesRead.invalidate();
    return results;
  }

  /**
   * `isOwned`: nobody changes `raw` after this call (the API's request body, just read as JSON), so its services are
   * compared by value with the last apply's (memo-parse.ts owned()) rather than each turned into JSON text.
   */
  validate(raw: unknown, isOwned = false): { config?: Config; error?: EngineError } {
    const parsed = isOwned ? this.parseConfig.owned(raw) : this.parseConfig(raw);
    if (parsed.success) return { config: parsed.data };
    const fields = fieldIssues(parsed.error.issues);
    const summary = `${fields[0].path}: ${fields[0].message}${fields.length > 1 ? ` (and ${fields.length - 1} more)` : ''}`;
    return { error: new EngineError('CFG_INVALID', { summary }, { fields }) };
  }

  /**
   * Applies `raw` as `version`. Idempotent: the version already running with the same hash answers its result again
   * and changes nothing (a console that retries after a timeout does no harm). `deadline` (epoch ms): a request that
   * reaches its turn after it is refused and not applied (a paused engine must not later run a version the console
   * gave up on). Every outcome is kept by version (see outcome()), so a console in doubt can ask what became of it.
   * `isOwned`: as validate()'s.
   */
  apply(version: number, raw: unknown, opts: { deadline?: number; isOwned?: boolean } = {}): Promise<ApplyResponse> {
    return this.serialise(async () => {
      const previousVersion = this.running?.version ?? 'none';
      if (opts.deadline !== undefined && Date.now() > opts.deadline) {
        const err = new EngineError('ENGINE_APPLY_EXPIRED', { version, running: previousVersion });
        this.recordOutcome({ version, status: 'expired', message: err.message });
        this.log('warn', 'apply refused: it arrived after its deadline', { version, deadline: new Date(opts.deadline).toISOString() });
        throw err;
      }
      // Where an apply's time goes, in its 'applied' log line (bench/apply.ts reads it from the engine log).
      const ms: Record<string, number> = {};
      let t = performance.now();
      const started = t;
      const lap = (k: string) => {
        const now = performance.now();
        ms[k] = Math.round((now - t) * 10) / 10;
        t = now;
      };
      const { config, error } = this.validate(raw, opts.isOwned);
      // Let go of the request body: a one-change apply at 1,000 services parses ~0.9 MiB of it, and kept alive through
      // the data planes it was copied by every minor collection that landed in the apply (the parse keeps only what
      // it needs).
      raw = undefined;
      lap('validate');
      if (!config) {
        this.recordOutcome({ version, status: 'failed', message: error!.message });
        throw error!;
      }
      // Its canonical text in pieces, hashed and (persist()) recorded as they are, never joined.
      const canonical = canonicalParts(config);
      const hash = configHashOfParts(canonical);
      lap('hash');
      if (this.running && this.running.version === version && this.running.hash === hash) {
        return { ok: true, version, hash, results: this.running.results, isRepeat: true };
      }
      // Started in time: a console asking from now on learns that it is under way, not that it never came.
      this.recordOutcome({ version, hash, status: 'applying' });
      // The monitor first, so a server that joins a check already known down is decided down in this very apply.
      this.monitor.update(config);
      lap('monitor');
      const results = await this.program(config, ms);
      t = performance.now();
      const failed = results.filter((r) => r.status === 'failed');
      if (failed.length > 0) {
        const previous = this.running;
        const restore = previous?.config ?? ConfigSchema.parse({});
        this.monitor.update(restore);
        await this.program(restore).catch((e) => this.log('error', 'rollback failed', { error: (e as Error).message }));
        const reason = failed.map((f) => `${f.name}: ${f.message}`).join('; ');
        const err = new EngineError('ENGINE_APPLY_FAILED', { version, previous: previous?.version ?? 'none', reason });
        this.emit('event', { type: 'apply-failed', at: new Date().toISOString(), version, message: err.message });
        this.log('warn', 'apply failed; previous version restored', { version, reason });
        this.recordOutcome({ version, hash, status: 'failed', message: err.message });
        return { ok: false, version, hash, results, runningVersion: previous?.version ?? null, error: { code: err.code, message: err.message } };
      }
      const previous = this.running;
      this.running = { version, hash, appliedAt: new Date().toISOString(), config, results };
      try {
        this.persist(canonical);
        lap('persist');
      } catch (e) {
        // Not recorded (disk full, read-only): running it would make a restarted engine reconcile to something else.
        // Back to the previous version, and say why.
        this.running = previous;
        const restore = previous?.config ?? ConfigSchema.parse({});
        this.monitor.update(restore);
        await this.program(restore).catch((err) => this.log('error', 'rollback failed', { error: (err as Error).message }));
        const err = new EngineError('ENGINE_RECORD_FAILED', {
          version,
          reason: (e as NodeJS.ErrnoException).code === 'ENOSPC' ? 'the disk holding the data directory is full' : (e as Error).message,
        });
        this.recordOutcome({ version, hash, status: 'failed', message: err.message });
        this.log('error', 'apply not recorded; previous version restored', { version, error: (e as Error).message });
        throw err;
      }
      this.recordOutcome({ version, hash, status: 'applied' });
      lap('record');
      this.emit('event', { type: 'applied', at: this.running.appliedAt, version, hash, results });
      ms.total = Math.round((performance.now() - started) * 10) / 10;
      this.log('info', 'applied', { version, hash, services: results.length, ms });
      return { ok: true, version, hash, results };
    });
  }

  /** What became of `version`: applied, failed (with why) or expired; undefined if this engine never had it. */
  outcome(version: number): ApplyOutcome | undefined {
    return this.outcomes.get(version);
  }

  private recordOutcome(o: Omit<ApplyOutcome, 'at'>): void {
    this.outcomes.set(o.version, { ...o, at: new Date().toISOString() });
    while (this.outcomes.size > OUTCOME_LOG_SIZE) this.outcomes.delete(this.outcomes.keys().next().value!);
    try {
      const tmp = `${this.outcomesPath}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify([...this.outcomes.values()]), { mode: 0o600 });
      fs.renameSync(tmp, this.outcomesPath);
    } catch (e) {
      // Kept in memory; a console asking before a restart still learns it, and the running version is recorded apart.
      this.log('error', 'could not record an apply outcome', { version: o.version, error: (e as Error).message });
    }
  }

  /**
   * Operator action on one real server: takes effect at once, through the same decision as every other change.
   * Idempotent (setting a state twice is setting it once); refused unchanged after `deadline` (epoch ms), like apply.
   */
  setServerState(virtualService: string, realServer: string, state: OperatorState, opts: { deadline?: number } = {}): Promise<ServiceResult[]> {
    return this.serialise(async () => {
      if (opts.deadline !== undefined && Date.now() > opts.deadline) {
        this.log('warn', 'server state refused: it arrived after its deadline', { virtualService, realServer, state });
        throw new EngineError('ENGINE_STATE_EXPIRED', { server: `${virtualService}/${realServer}`, state });
      }
      const running = this.running;
      const vs = running?.config.virtualServices.find((v) => v.name === virtualService);
      const rs = vs?.realServers.find((r) => r.name === realServer);
      if (!running || !vs || !rs) throw new EngineError('ENGINE_NOT_FOUND', { what: `Real server ${virtualService}/${realServer}` });
      // A new configuration with this one server's state changed: a parsed configuration's services are shared and
      // frozen (memo-parse.ts), never changed in place.
      const was = running.config;
      running.config = {
        ...was,
        virtualServices: was.virtualServices.map((v) => (v !== vs ? v : { ...v, realServers: v.realServers.map((r) => (r === rs ? { ...r, state } : r)) })),
      };
      const results = await this.program(running.config);
      running.results = results;
      try {
        this.persist();
      } catch (e) {
        running.config = was;
        running.results = await this.program(running.config);
        throw new EngineError('ENGINE_RECORD_FAILED', {
          version: running.version,
          reason: (e as NodeJS.ErrnoException).code === 'ENOSPC' ? 'the disk holding the data directory is full' : (e as Error).message,
        });
      }
      this.emit('event', { type: 'server-state', at: new Date().toISOString(), virtualService, realServer, state });
      this.log('info', 'server state set', { virtualService, realServer, state });
      return results.filter((r) => r.name === virtualService);
    });
  }

  /** The monitor saw servers change health: log and announce each transition, then decide again. */
  private async onHealthTransitions(batch: MonitorTransition[]): Promise<void> {
    // This batch's own events: another batch may be logged while this one waits for the data planes.
    const events: HealthTransitionEvent[] = batch.map((t) => ({
      type: 'health',
      at: t.at,
      seq: ++this.seq,
      virtualService: t.virtualService,
      realServer: t.realServer,
      previous: t.previous,
      health: t.health,
      code: t.code,
      message: t.message,
      durationMs: t.durationMs,
      check: t.check,
      target: t.target,
    }));
    for (const e of events) {
      this.transitions.push(e);
      this.log(e.health === 'down' ? 'warn' : 'info', `real server ${e.virtualService}/${e.realServer} is ${e.health}: ${e.message}`, {
        code: e.code,
        previous: e.previous,
        check: e.check,
        durationMs: e.durationMs,
      });
    }
    if (this.transitions.length > TRANSITION_LOG_SIZE) this.transitions.splice(0, this.transitions.length - TRANSITION_LOG_SIZE);
    await this.onHealthChange(batch.map((t) => t.key));
    for (const e of events) this.emit('event', e);
  }

  /**
   * Health or feedback of `keys` changed: decide again and tell the data planes. A data plane that can change servers
   * in place (layer 7) is given just those; layer 4 re-applies, which its memo turns into one netlink operation per
   * changed destination.
   */
  private onHealthChange(keys: ServerKey[]): Promise<void> {
    return this.serialise(async () => {
      const running = this.running;
      if (!running) return;
      const decisions = this.decisions(running.config);
      const input = { config: running.config, decisions };
      const results: ServiceResult[] = [];
      for (const dp of this.dataPlanes) {
        if (dp.updateServers) {
          await dp.updateServers(input, keys);
          const layer = dp.name === 'l4' ? 4 : 7;
          results.push(...running.results.filter((r) => r.layer === layer));
        } else results.push(...(await dp.apply(input)));
      }
      running.results = results;
    }).catch((e) => this.log('error', 'could not apply a health change', { error: (e as Error).stack }));
  }

  /** keepalived's track script (GET /v1/ha/check): may this node be the active one? See ha/check.ts. */
  haCheck(): { problems: string[] } {
    const standby = this.haStandby ? [`an operator (${this.haStandby.by}) handed this node's service to the peer: ${this.haStandby.reason}`] : [];
    return { problems: [...standby, ...dataPlaneProblems(this.running?.results)] };
  }

  /**
   * A planned hand-over (the console's "move the service to the peer"): while set, the track script fails, so
   * keepalived puts this node's instances in FAULT, gives up the addresses and the peer takes them; cleared, the node
   * becomes a backup again (and takes them back only if the pair preempts). In memory: an engine restart stops
   * keepalived anyway, which hands over too.
   */
  setHaStandby(standby: { by: string; reason: string } | null): HaStandby | null {
    const was = this.haStandby;
    this.haStandby = standby ? { ...standby, since: was?.since ?? new Date().toISOString() } : null;
    if (!!was !== !!standby) {
      this.log('info', standby ? `HA standby set by ${standby.by}: ${standby.reason}` : 'HA standby cleared');
      this.emit('event', {
        type: 'ha',
        at: new Date().toISOString(),
        kind: 'standby',
        state: standby ? 'on' : 'off',
        message: standby ? `Handing the service to the peer (${standby.by}): ${standby.reason}` : 'Standby ended: this node may be active again.',
      });
    }
    return this.haStandby;
  }

  /** Every check runs now (an operator's "check now", and tests). */
  runChecksNow(): void {
    this.monitor.runNow();
  }

  /** Transitions still in the log with seq > since, oldest first. */
  healthTransitions(since = 0): HealthTransitionEvent[] {
    const i = this.transitions.findIndex((t) => t.seq > since);
    return i < 0 ? [] : this.transitions.slice(i);
  }

  /**
   * Records the running configuration before the apply is answered, so a restarted engine reconciles to what the
   * console was told runs: a journal entry of what changed, or now and then a whole record (record.ts says how a
   * kill at any moment leaves one state or the other). `configParts`: the running configuration's canonicalParts
   * when the caller has them (the apply hashed them), for a whole record.
   */
  private persist(configParts?: readonly string[]): void {
    if (!this.running) return;
    const config = this.running.config;
    // Private keys are sealed in the record (engine/secrets.ts): a copy of it alone reveals none.
    const key = secretKey(this.dataDir);
    const sealed = mapPrivateKeys(config, (pem, ctx) => seal(key, pem, ctx));
    this.record.write(this.running, sealed, sealed === config ? configParts : undefined);
  }

  /** The kernel's part of a status (latest-read.ts says why a status waits for it at most a second). */
  private readonly capabilitiesRead = new LatestRead(() => Promise.all(this.dataPlanes.map((d) => d.capabilities())), STATUS_KERNEL_WAIT_MS, 5000);
  private readonly countersRead = new LatestRead(async () => {
    const counters: Counters = new Map();
    for (const dp of this.dataPlanes) for (const [k, v] of await dp.counters().catch(() => new Map())) counters.set(k, v);
    return counters;
  }, STATUS_KERNEL_WAIT_MS);

  /**
   * What runs and how each service is doing. `services`: only these (by name; a name the engine does not run is left
   * out); none given: every service. The console's overview asks for its page of 25, not all 1,000 (issue 13).
   * `detail: 'health'`: each service's result and its servers' operator state and health only, without counters or
   * checks' last results, so neither the data planes' counters nor the check runner is read (the overview's
   * sort=problems ranks every service by that alone).
   */
  async status(opts: { services?: readonly string[]; detail?: 'full' | 'health' } = {}): Promise<EngineStatus> {
    const isFull = opts.detail !== 'health';
    const [{ value: capabilities }, ha, , counted] = await Promise.all([
      this.capabilitiesRead.get(),
      this.ha.status(),
      isFull ? this.monitor.refresh() : undefined,
      isFull ? this.countersRead.get() : undefined,
    ]);
    const running = this.running;
    return {
      pid: process.pid,
      startedAt: this.startedAt,
      running: running ? { version: running.version, hash: running.hash, appliedAt: running.appliedAt } : null,
      capabilities,
      services: running ? this.servicesStatus(running, opts.services, counted?.value) : [],
      countersReadAt: counted?.readAt ?? new Date().toISOString(),
      ...(ha ? { ha: { ...ha, standby: this.haStandby } } : {}),
    };
  }

  /** The status of `names` (all when undefined) of the running services; counters and checks only when `counters` is given. */
  private servicesStatus(running: Running, names: readonly string[] | undefined, counters: Counters | undefined): ServiceStatus[] {
    const wanted = names ? new Set(names) : null;
    const results = new Map(running.results.map((r) => [r.name, r]));
    const decisions = this.decisions(running.config);
    const services: ServiceStatus[] = [];
    for (const vs of running.config.virtualServices) {
      if (wanted && !wanted.has(vs.name)) continue;
      const r = results.get(vs.name);
      const c = counters?.get(vs.name);
      services.push({
        name: vs.name,
        layer: vs.layer,
        status: r?.status ?? 'not-programmed',
        message: r?.message ?? 'No data plane reported on this service.',
        counters: c?.service,
        realServers: vs.realServers.map((rs) => {
          const key = serverKey(vs.name, rs.name);
          return {
            name: rs.name,
            operator: rs.state,
            health: this.monitor.healthOf(key) ?? 'unknown',
            decision: decisions.get(key)!,
            counters: c?.servers.get(rs.name),
            check: counters ? this.monitor.statusOf(key) : undefined,
          };
        }),
      });
    }
    return services;
  }

  /** What runs, for the read-only views (views.ts): the running configuration (private keys as held) and the data planes. */
  runningView(): { running: Readonly<Running> | null; dataPlanes: readonly DataPlane[]; dataDir: string } {
    return { running: this.running, dataPlanes: this.dataPlanes, dataDir: this.dataDir };
  }

  async close(): Promise<void> {
    this.stopStats();
    await this.ha.close();
    this.monitor.close();
    for (const dp of this.dataPlanes) await dp.close().catch(() => undefined);
  }
}
