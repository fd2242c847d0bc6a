/**
 * The engine's core, apart from its transport: the running configuration, the decision of every real server's
 * state (via server-state.ts), and the data planes that obey it.
 *
 * Apply: parse with the one schema → decide server states → each data plane applies → if any service failed, the
 * previous configuration is applied again and the answer says why. The running configuration is recorded in the
 * data directory (owner-only) so a restarted engine reconciles the kernel and the proxy to it without flushing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { ConfigSchema, type Config, type HealthState, type OperatorState } from '../config/index.ts';
import { decideAll, type ServerDecision } from '../server-state.ts';
import { serverKey, type DataPlane, type ServerKey, type ServiceResult, type ServiceStatus } from '../dataplane.ts';
import { EngineError } from '../errors.ts';
import { configHash } from '../canonical.ts';
import type { ApplyResponse, EngineEvent, EngineStatus } from '../api-types.ts';

export type EngineLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

interface Running {
  version: number;
  hash: string;
  appliedAt: string;
  config: Config;
  results: ServiceResult[];
}

export class Engine extends EventEmitter<{ event: [EngineEvent] }> {
  readonly startedAt = new Date().toISOString();
  private running: Running | null = null;
  private readonly health = new Map<ServerKey, HealthState>();
  /** Serialises applies and state changes: the data planes see one change at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly statePath: string;
  private statsTimer: NodeJS.Timeout | null = null;
  private isSendingStats = false;
  private readonly statsIntervalMs: number;

  constructor(
    private readonly dataDir: string,
    private readonly dataPlanes: DataPlane[],
    private readonly log: EngineLog,
    opts: { statsIntervalMs?: number } = {},
  ) {
    super();
    this.statePath = path.join(dataDir, 'engine-running.json');
    this.statsIntervalMs = opts.statsIntervalMs ?? 2000;
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
    if (!fs.existsSync(this.statePath)) return;
    try {
      const saved = JSON.parse(fs.readFileSync(this.statePath, 'utf8')) as Running;
      const config = ConfigSchema.parse(saved.config);
      const results = await this.program(config);
      this.running = { ...saved, config, results };
      this.log('info', 'reconciled to the recorded configuration', { version: saved.version, hash: saved.hash });
    } catch (e) {
      this.log('error', 'could not reconcile to the recorded configuration', { error: (e as Error).message });
    }
  }

  private serialise<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  decisions(config: Config): Map<ServerKey, ServerDecision> {
    return decideAll(config, (key) => this.health.get(key));
  }

  private async program(config: Config): Promise<ServiceResult[]> {
    const decisions = this.decisions(config);
    const results: ServiceResult[] = [];
    for (const dp of this.dataPlanes) results.push(...(await dp.apply({ config, decisions })));
    return results;
  }

  validate(raw: unknown): { config?: Config; error?: EngineError } {
    const parsed = ConfigSchema.safeParse(raw);
    if (parsed.success) return { config: parsed.data };
    const fields = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
    const summary = `${fields[0].path}: ${fields[0].message}${fields.length > 1 ? ` (and ${fields.length - 1} more)` : ''}`;
    return { error: new EngineError('CFG_INVALID', { summary }, { fields }) };
  }

  apply(version: number, raw: unknown): Promise<ApplyResponse> {
    return this.serialise(async () => {
      const { config, error } = this.validate(raw);
      if (!config) throw error!;
      const hash = configHash(config);
      const results = await this.program(config);
      const failed = results.filter((r) => r.status === 'failed');
      if (failed.length > 0) {
        const previous = this.running;
        if (previous) await this.program(previous.config).catch((e) => this.log('error', 'rollback failed', { error: (e as Error).message }));
        else await this.program(ConfigSchema.parse({})).catch(() => undefined);
        const reason = failed.map((f) => `${f.name}: ${f.message}`).join('; ');
        const err = new EngineError('ENGINE_APPLY_FAILED', { version, previous: previous?.version ?? 'none', reason });
        this.emit('event', { type: 'apply-failed', at: new Date().toISOString(), version, message: err.message });
        this.log('warn', 'apply failed; previous version restored', { version, reason });
        return { ok: false, version, hash, results, runningVersion: previous?.version ?? null, error: { code: err.code, message: err.message } };
      }
      this.running = { version, hash, appliedAt: new Date().toISOString(), config, results };
      this.persist();
      this.emit('event', { type: 'applied', at: this.running.appliedAt, version, hash, results });
      this.log('info', 'applied', { version, hash, services: results.length });
      return { ok: true, version, hash, results };
    });
  }

  /** Operator action on one real server: takes effect at once, through the same decision as every other change. */
  setServerState(virtualService: string, realServer: string, state: OperatorState): Promise<ServiceResult[]> {
    return this.serialise(async () => {
      const running = this.running;
      const vs = running?.config.virtualServices.find((v) => v.name === virtualService);
      const rs = vs?.realServers.find((r) => r.name === realServer);
      if (!running || !vs || !rs) throw new EngineError('ENGINE_NOT_FOUND', { what: `Real server ${virtualService}/${realServer}` });
      rs.state = state;
      const results = await this.program(running.config);
      running.results = results;
      this.persist();
      this.emit('event', { type: 'server-state', at: new Date().toISOString(), virtualService, realServer, state });
      this.log('info', 'server state set', { virtualService, realServer, state });
      return results.filter((r) => r.name === virtualService);
    });
  }

  /** Health checkers report here; the decision (and the data planes) follow. */
  reportHealth(virtualService: string, realServer: string, health: HealthState): Promise<void> {
    return this.serialise(async () => {
      const key = serverKey(virtualService, realServer);
      if (this.health.get(key) === health) return;
      this.health.set(key, health);
      if (this.running) this.running.results = await this.program(this.running.config);
      this.emit('event', { type: 'health', at: new Date().toISOString(), virtualService, realServer, health });
    });
  }

  private persist(): void {
    if (!this.running) return;
    const tmp = `${this.statePath}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.running), { mode: 0o600 });
    fs.renameSync(tmp, this.statePath);
  }

  async status(): Promise<EngineStatus> {
    const capabilities = await Promise.all(this.dataPlanes.map((d) => d.capabilities()));
    const counters = new Map<string, Awaited<ReturnType<DataPlane['counters']>> extends Map<string, infer V> ? V : never>();
    for (const dp of this.dataPlanes) for (const [k, v] of await dp.counters().catch(() => new Map())) counters.set(k, v);
    const services: ServiceStatus[] = [];
    const running = this.running;
    if (running) {
      const decisions = this.decisions(running.config);
      for (const vs of running.config.virtualServices) {
        const r = running.results.find((x) => x.name === vs.name);
        const c = counters.get(vs.name);
        services.push({
          name: vs.name,
          layer: vs.layer,
          status: r?.status ?? 'not-programmed',
          message: r?.message ?? 'No data plane reported on this service.',
          counters: c?.service,
          realServers: vs.realServers.map((rs) => ({
            name: rs.name,
            operator: rs.state,
            health: this.health.get(serverKey(vs.name, rs.name)) ?? 'unknown',
            decision: decisions.get(serverKey(vs.name, rs.name))!,
            counters: c?.servers.get(rs.name),
          })),
        });
      }
    }
    return {
      pid: process.pid,
      startedAt: this.startedAt,
      running: running ? { version: running.version, hash: running.hash, appliedAt: running.appliedAt } : null,
      capabilities,
      services,
    };
  }

  async close(): Promise<void> {
    this.stopStats();
    for (const dp of this.dataPlanes) await dp.close().catch(() => undefined);
  }
}
