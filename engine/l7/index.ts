/**
 * The layer 7 data plane: an embedded proxy running in worker processes (node:cluster, one per core by default),
 * driven from the daemon's process, which is the cluster primary.
 *
 *   daemon ── apply(config, decisions) ──► Planner ──► every worker: Runtime.apply (changed plans only) ──► report
 *          ◄─ counters() ◄── sum of every worker's snapshot
 *   workers ◄─► primary: stick-table entries (persistence shared by all workers), TLS ticket keys (one set, kept
 *               in the data directory so session resumption also survives a restart), connection slots of real
 *               servers with a maximum (slots.ts: the primary counts them, so the maximum holds for the cluster)
 *
 * Node 20 on Linux cannot give each worker its own SO_REUSEPORT socket, so the cluster primary creates each
 * listening socket and shares it with the workers, which accept on it directly (see L7Options.acceptMode).
 * `workers: 0` runs the proxy inside the calling process instead, which tests use for exact scheduler sequences and
 * which is handy for debugging.
 * A worker that dies is replaced, after a backoff that grows while workers keep dying (lifecycle.ts), and given the
 * running configuration; apply never throws for one bad service. close() drains: listeners stop accepting, requests
 * in flight finish (keep-alive clients are closed after their response) for up to the close grace, then the rest is
 * cut.
 */
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApplyInput, Capability, DataPlane, ServerCounters, ServerKey, ServiceResult } from '../dataplane.ts';
import { EngineError } from '../errors.ts';
import { LAYER7_SCHEDULERS } from '../config/index.ts';
import { Planner, type ServicePlan } from './plan.ts';
import { Runtime, type ServiceReport } from './runtime.ts';
import type { StickEntry, StickSync } from './persistence.ts';
import { sumSnapshots, toServerCounters, type CounterSnapshot } from './stats.ts';
import type { FromWorker, ServerChange, ToWorker } from './messages.ts';
import { SlotLedger } from './slots.ts';
import { loadTicketKeys } from './tls.ts';
import { CLOSE_GRACE_ENV, closeGrace, exitText, RestartBackoff, SYSTEM_CLOCK, type BackoffOptions, type RestartClock } from './lifecycle.ts';

/** PFX/PKCS#12 to the PEM pair the config carries (the console's certificate upload uses it). */
export { importPfx } from './pfx.ts';

export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: object) => void;

export interface L7Options {
  dataDir: string;
  /** Worker processes; default one per core. 0 runs the proxy in this process. */
  workers?: number;
  log?: Log;
  /** How long close() lets requests in flight finish; default FULCRUM_L7_CLOSE_GRACE_MS from the environment, else 5 s. */
  closeGraceMs?: number;
  /** The backoff before a crashed worker is replaced (lifecycle.ts); `clock` for tests that step through it. */
  restart?: Partial<BackoffOptions> & { clock?: RestartClock };
  /**
   * How new connections reach workers. 'shared' (default): every worker accepts on the shared listening socket and
   * the kernel picks; the daemon (the cluster primary) never touches traffic. 'round-robin': the primary accepts and
   * deals connections out in turn — even, but the primary's event loop is on the path of every new connection
   * (measured here: ~2x the CPU per request for one-request connections). Tests use it to prove cross-worker
   * behaviour. Fixed by the first data plane that forks in a process (node:cluster freezes it).
   */
  acceptMode?: 'shared' | 'round-robin';
  /**
   * The access log (access.ts): each worker writes `<dir>/access-<slot>.log` (slot 0 … workers-1, so a replacement
   * takes over its predecessor's file and retention), rotated at `size` with `keep` rotated files. Default: the data
   * directory's logs/, 10m, 5. false: none (the benchmark's logging-off run). In-process (workers: 0) see access.ts.
   */
  accessLog?: { dir?: string; size?: string; keep?: number } | false;
}

export interface L7DataPlane extends DataPlane {
  /** Worker process ids (empty in-process), for tests that kill one. */
  workerPids(): number[];
  /** Entries made or refreshed here (any worker) also go to `listener`: the HA peer link (engine/ha/stick-sync.ts). */
  onStick(listener: StickSync): void;
  /** An entry learnt from the HA peer: given to every worker, and kept for workers started later. */
  mergeStick(table: string, key: string, entry: StickEntry): void;
  /** Live entries per stick table ("<service>/source" …), for the runtime view; null in-process (not counted apart). */
  stickTableSizes(): Map<string, number> | null;
  /** Every entry held ([table, key, entry]): what a joining HA peer is sent (engine/ha/stick-sync.ts resync). */
  stickEntries(): [string, string, StickEntry][];
}

/**
 * Workers start from the same kind of file as this one: the compiled worker.js when the engine runs from its build
 * (npm start), worker.ts under the TypeScript loader when tests run the sources.
 */
const IS_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_ENTRY = fileURLToPath(new URL(IS_SOURCE ? './worker.ts' : './worker.js', import.meta.url));
const APPLY_TIMEOUT_MS = 20_000;
const START_TIMEOUT_MS = 30_000;
/**
 * V8 flags for workers. A proxy allocates many short-lived objects and keeps little: a larger young generation
 * means fewer scavenges. V8 grows it only when much survives, which here it never does, so a maximum alone left it
 * at its small start: 16 MB from the start cut scavenges about 4x (233 -> 52 in 4 s of wrk -c64 over http) and
 * about 0.3 us of CPU per request, for about 25 MB more memory per worker. The maximum is that same 16 MB: under wrk
 * it never grew past it, but thousands of connections opening at once are what survives, and V8 then doubled it to
 * 32 MB (64 MB of semi-spaces, resident until it shrinks again), which was most of the 7-8 KB bench:l7 counted per
 * idle connection (3.1 KB without it). FULCRUM_L7_V8_FLAGS replaces the list (for measurement).
 */
const WORKER_V8_FLAGS = (process.env.FULCRUM_L7_V8_FLAGS ?? '--max-semi-space-size=16 --min-semi-space-size=16').split(' ').filter(Boolean);

export function createL7DataPlane(opts: L7Options): L7DataPlane {
  const log: Log = opts.log ?? (() => undefined);
  const workerCount = opts.workers ?? Math.max(1, os.availableParallelism());
  const grace = closeGrace(opts.closeGraceMs, process.env[CLOSE_GRACE_ENV]);
  if (grace.problem !== undefined) log('error', `layer 7: ${grace.problem}`);
  const graceMs = grace.ms;
  const { clock = SYSTEM_CLOCK, ...backoffOptions } = opts.restart ?? {};
  const backoff = new RestartBackoff(backoffOptions);
  /** Replacements waiting out their backoff: each one's cancel. */
  const restarts = new Set<() => void>();
  /** Workers that said ready (and were given the ticket keys and stick tables): the only ones asked to apply. */
  const isUp = new Set<number>();
  let ticketKeys: Buffer | null = null;
  let local: Runtime | null = null;
  const workers = new Map<number, Worker>(); // by worker id
  const ready = new Map<number, Promise<void>>();
  /** Replies awaited, by "<request id>/<worker id>". */
  const pending = new Map<string, (m: FromWorker) => void>();
  const stick = new Map<string, Map<string, StickEntry>>();
  /** Connection slots of limited real servers, counted across workers (slots.ts). */
  const slots = new SlotLedger();
  let lastPlans: ServicePlan[] = [];
  /** Plans and their JSON, remembered per parsed service (plan.ts): an unchanged service is not planned again. */
  const planner = new Planner();
  /**
   * Per worker id: the services it reported running, with the plan's JSON and its report. An apply sends a worker only
   * the plans that differ (and names the rest `same`), so one weight changed among 1,000 services crosses the IPC
   * channel as one plan, not 1,000 (bench:apply). A new worker has none and gets everything.
   */
  const running = new Map<number, Map<string, { json: string; report: ServiceReport }>>();
  let lastNames = new Set<string>();
  let nextId = 1;
  let isClosed = false;
  let applying: Promise<unknown> = Promise.resolve();

  const keys = () => (ticketKeys ??= loadTicketKeys(opts.dataDir));

  let stickListener: StickSync | undefined;
  const onStick = (table: string, key: string, entry: StickEntry, from?: Worker) => {
    let t = stick.get(table);
    if (!t) stick.set(table, (t = new Map()));
    t.set(key, entry);
    for (const w of workers.values()) if (w !== from && w.isConnected()) w.send({ t: 'stick', table, key, entry } satisfies ToWorker);
  };

  const slotFree = (key: string) => {
    // A queue place (`<service>\0`, no server) frees nobody: no waiter waits for one.
    if (key.endsWith('\u0000')) return;
    for (const w of workers.values()) if (w.isConnected()) w.send({ t: 'slot-free', key } satisfies ToWorker);
  };

  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const t of stick.values()) for (const [k, e] of t) if (e.expiresAt <= now) t.delete(k);
  }, 30_000);
  sweeper.unref();

  /** Each worker's access log file, by the lowest slot no live worker holds. */
  const accessSlots = new Map<number, number>();
  let forking = -1;
  function accessLogEnv(): Record<string, string> {
    if (opts.accessLog === false) return {};
    const taken = new Set(accessSlots.values());
    let slot = 0;
    while (taken.has(slot)) slot++;
    forking = slot;
    const a = opts.accessLog ?? {};
    return {
      FULCRUM_L7_ACCESS_LOG: path.join(a.dir ?? path.join(opts.dataDir, 'logs'), `access-${slot}.log`),
      FULCRUM_L7_ACCESS_LOG_SIZE: a.size ?? '10m',
      FULCRUM_L7_ACCESS_LOG_KEEP: String(a.keep ?? 5),
    };
  }

  function fork(): Worker {
    if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = opts.acceptMode === 'round-robin' ? cluster.SCHED_RR : cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: WORKER_ENTRY, execArgv: [...(IS_SOURCE ? ['--import', 'tsx'] : []), ...WORKER_V8_FLAGS], silent: false });
    const w = cluster.fork({ FULCRUM_L7_WORKER: '1', ...accessLogEnv() });
    const startedAt = clock.now();
    if (forking !== -1) accessSlots.set(w.id, forking);
    forking = -1;
    workers.set(w.id, w);
    ready.set(
      w.id,
      new Promise<void>((resolve, reject) => {
        const onExit = () => reject(new Error(`worker ${w.id} exited while starting`));
        w.once('exit', onExit);
        w.on('message', (m: FromWorker) => {
          if (m.t === 'ready') {
            w.off('exit', onExit);
            const dump: [string, string, StickEntry][] = [];
            for (const [table, t] of stick) for (const [k, e] of t) dump.push([table, k, e]);
            w.send({ t: 'init', ticketKeys: keys().toString('base64'), stick: dump } satisfies ToWorker);
            isUp.add(w.id);
            resolve();
          } else if (m.t === 'slot-acquire') {
            if (w.isConnected()) w.send({ t: 'slot', id: m.id, isGranted: slots.acquire(w.id, m.key, m.max) } satisfies ToWorker);
          } else if (m.t === 'slot-release') {
            if (slots.release(w.id, m.key)) slotFree(m.key);
          } else if (m.t === 'stick') {
            onStick(m.table, m.key, m.entry, w);
            stickListener?.(m.table, m.key, m.entry);
          } else if (m.t === 'log') log(m.level, m.msg, m.fields);
          else if (m.t === 'applied' || m.t === 'stats') {
            const key = `${m.id}/${w.id}`;
            pending.get(key)?.(m);
            pending.delete(key);
          }
        });
      }),
    );
    // Nobody may be waiting for a worker forked as a replacement: its failure to start must not be an unhandled rejection.
    ready.get(w.id)!.catch(() => undefined);
    w.on('exit', (code, signal) => exited(w, startedAt, code, signal));
    return w;
  }

  /** A worker ended: what it held is freed and, unless the plane is closing, a replacement is due after the backoff. */
  function exited(w: Worker, startedAt: number, code: number | null, signal: string | null): void {
    workers.delete(w.id);
    accessSlots.delete(w.id);
    ready.delete(w.id);
    isUp.delete(w.id);
    running.delete(w.id);
    // Its requests died with it: their slots are free for the other workers.
    for (const key of slots.dropWorker(w.id)) slotFree(key);
    for (const [key, cb] of pending) if (key.endsWith(`/${w.id}`)) cb({ t: 'applied', id: 0, reports: [] });
    if (isClosed) return;
    const delay = backoff.next(clock.now() - startedAt);
    log('error', `layer 7 worker ${w.process.pid} ${exitText(code, signal)}; starting a replacement in ${delay} ms`, {
      pid: w.process.pid,
      code,
      signal,
      restartInMs: delay,
      crashesInARow: backoff.crashesInARow,
    });
    const cancel = clock.schedule(() => {
      restarts.delete(cancel);
      if (!isClosed) replace();
    }, delay);
    restarts.add(cancel);
  }

  /** Forks a replacement and gives it the running configuration, in turn with applies (never before one in flight). */
  function replace(): void {
    const r = fork();
    void ready.get(r.id)!.then(
      () => {
        const run = async () => {
          if (!r.isConnected()) return; // it died meanwhile; its own replacement is on the way
          const reports = await applyTo(
            r,
            lastPlans,
            lastPlans.map((p) => JSON.stringify(p)),
            nextId++,
          );
          for (const rep of reports?.values() ?? [])
            if (!rep.isOk) log('warn', `layer 7 service ${rep.name} failed in the replacement worker: ${rep.message}`, { code: rep.code });
        };
        const p = applying.then(run, run);
        applying = p.catch(() => undefined);
      },
      () => undefined,
    );
  }

  function ask(w: Worker, m: ToWorker & { id: number }, timeoutMs: number): Promise<FromWorker | null> {
    return new Promise((resolve) => {
      const key = `${m.id}/${w.id}`;
      const timer = setTimeout(() => {
        pending.delete(key);
        resolve(null);
      }, timeoutMs);
      pending.set(key, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      w.send(m);
    });
  }

  async function ensureWorkers(): Promise<void> {
    if (workerCount === 0) {
      local ??= new Runtime(keys(), (table, key, entry) => stickListener?.(table, key, entry));
      return;
    }
    // A worker waiting out its backoff is not forked again here: an apply must not defeat the backoff.
    while (workers.size + restarts.size < workerCount) fork();
    // A worker that never says ready (a broken install, a hung import) must not hang the daemon's apply.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`workers did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    });
    try {
      await Promise.race([Promise.all([...ready.values()]), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function applyPlans(plans: ServicePlan[], jsons: string[]): Promise<Map<string, ServiceReport>> {
    const byName = new Map<string, ServiceReport>();
    if (workerCount === 0) {
      // The runtime's own copies: it changes a plan's servers in place (Runtime.updateServers), and the planner's are
      // remembered and frozen.
      for (const r of await local!.apply(plans.map((p) => structuredClone(p)))) byName.set(r.name, r);
      return byName;
    }
    const up = [...workers.values()].filter((w) => isUp.has(w.id) && w.isConnected());
    if (up.length === 0) {
      // Every worker crashed and waits out its backoff: the replacement takes these plans when it starts.
      const reason = 'no layer 7 worker is running (each crashed and is being restarted); the replacement takes this configuration when it starts';
      for (const plan of plans)
        byName.set(plan.name, {
          name: plan.name,
          isOk: false,
          code: 'PROXY_WORKER_FAILED',
          message: new EngineError('PROXY_WORKER_FAILED', { reason }).message,
          endpoints: [],
        });
      return byName;
    }
    const id = nextId++;
    const replies = await Promise.all(up.map((w) => applyTo(w, plans, jsons, id)));
    for (const plan of plans) {
      let report: ServiceReport | undefined;
      for (const reply of replies) {
        const r = reply?.get(plan.name);
        if (!r) {
          report = {
            name: plan.name,
            isOk: false,
            code: 'PROXY_WORKER_FAILED',
            message: new EngineError('PROXY_WORKER_FAILED', { reason: 'a worker did not answer' }).message,
            endpoints: [],
          };
          break;
        }
        if (!r.isOk) {
          report = r;
          break;
        }
        report ??= r;
      }
      byName.set(plan.name, report!);
    }
    return byName;
  }

  /**
   * Gives worker `w` the whole configuration `plans` (`jsons`: each plan's JSON), sending only the plans it does not
   * run already. Resolves with its report on every plan (kept ones from its earlier reports), or null if it did not
   * answer.
   */
  async function applyTo(w: Worker, plans: ServicePlan[], jsons: string[], id: number): Promise<Map<string, ServiceReport> | null> {
    const known = running.get(w.id) ?? new Map<string, { json: string; report: ServiceReport }>();
    const send: ServicePlan[] = [];
    const same: string[] = [];
    const isSame = plans.map((p, i) => known.get(p.name)?.json === jsons[i]);
    plans.forEach((p, i) => {
      if (isSame[i]) same.push(p.name);
      else send.push(p);
    });
    const reply = await ask(w, { t: 'apply', id, plans: send, same }, APPLY_TIMEOUT_MS);
    if (reply?.t !== 'applied') {
      running.delete(w.id); // in doubt: everything again next time
      return null;
    }
    const answered = new Map(reply.reports.map((r) => [r.name, r]));
    const next = new Map<string, { json: string; report: ServiceReport }>();
    const reports = new Map<string, ServiceReport>();
    plans.forEach((p, i) => {
      // A kept service is reported only if the worker no longer runs it (then it is sent whole next time).
      const report = answered.get(p.name) ?? (isSame[i] ? known.get(p.name)?.report : undefined);
      if (!report) return;
      reports.set(p.name, report);
      if (report.isOk) next.set(p.name, { json: jsons[i], report });
    });
    running.set(w.id, next);
    return reports;
  }

  const plane: L7DataPlane = {
    name: 'l7',
    onStick: (listener) => void (stickListener = listener),
    mergeStick: (table, key, entry) => {
      onStick(table, key, entry);
      local?.mergeStick(table, key, entry);
    },

    async capabilities(): Promise<Capability> {
      return {
        dataPlane: 'l7',
        isAvailable: true,
        details: { workers: workerCount === 0 ? 'in-process' : workerCount, modes: ['http', 'tcp'], schedulers: [...LAYER7_SCHEDULERS], node: process.version },
      };
    },

    apply(input: ApplyInput): Promise<ServiceResult[]> {
      const run = async (): Promise<ServiceResult[]> => {
        if (isClosed) throw new Error('the layer 7 data plane is closed');
        const { config, decisions } = input;
        const planned = planner.plan(config, decisions);
        const plans = planned.map((p) => p.plan);
        // No layer 7 service, none before, and no worker yet: nothing to start (a layer 4 appliance runs no idle proxy processes,
        // and its first apply does not wait for them to boot).
        if (plans.length === 0 && lastPlans.length === 0 && workers.size === 0 && restarts.size === 0) return [];
        try {
          await ensureWorkers();
        } catch (err) {
          log('error', `layer 7 workers failed to start: ${(err as Error).message}`);
          return plans.map((p) => ({
            name: p.name,
            layer: 7 as const,
            status: 'failed' as const,
            code: 'PROXY_WORKER_FAILED',
            message: new EngineError('PROXY_WORKER_FAILED', { reason: (err as Error).message }).message,
          }));
        }
        const reports = await applyPlans(
          plans,
          planned.map((p) => p.json),
        );
        lastPlans = isUp.size === 0 && workerCount > 0 ? plans : plans.filter((p) => reports.get(p.name)?.isOk);
        const results: ServiceResult[] = [];
        const names = new Set<string>();
        for (const vs of config.virtualServices) {
          if (vs.layer !== 7) continue;
          names.add(vs.name);
          if (!vs.isEnabled) {
            results.push({ name: vs.name, layer: 7, status: 'removed', message: 'The service is disabled; it does not listen.' });
            continue;
          }
          const r = reports.get(vs.name)!;
          if (r.isOk) results.push({ name: vs.name, layer: 7, status: 'programmed', message: r.message, operations: r.endpoints.length });
          else {
            log('warn', `layer 7 service ${vs.name} failed: ${r.message}`, { code: r.code });
            results.push({ name: vs.name, layer: 7, status: 'failed', message: r.message, code: r.code });
          }
        }
        for (const name of lastNames)
          if (!names.has(name)) results.push({ name, layer: 7, status: 'removed', message: 'The service was removed; its listeners are closed.' });
        lastNames = names;
        return results;
      };
      const p = applying.then(run, run);
      applying = p.catch(() => undefined);
      return p;
    },

    updateServers(input: ApplyInput, changed: readonly ServerKey[]): Promise<void> {
      const run = async (): Promise<void> => {
        if (isClosed) return;
        const changes: ServerChange[] = [];
        for (const key of changed) {
          const slash = key.indexOf('/');
          const service = key.slice(0, slash);
          const server = key.slice(slash + 1);
          const k = lastPlans.findIndex((p) => p.name === service);
          const plan = lastPlans[k];
          const i = plan ? plan.servers.findIndex((s) => s.name === server) : -1;
          const d = input.decisions.get(key);
          if (!plan || i < 0 || !d) continue;
          // A replacement worker starts from lastPlans: it must get the new decision too. A new plan, not this one
          // changed: the planner's are remembered (and frozen); the next apply plans this service afresh.
          const servers = plan.servers.map((s, j) => (j === i ? { ...s, weight: d.weight, disposition: d.disposition, isHealthDown: d.isHealthDown } : s));
          lastPlans[k] = { ...plan, servers };
          changes.push({ service, server, weight: d.weight, disposition: d.disposition, isHealthDown: d.isHealthDown });
        }
        if (changes.length === 0) return;
        // The workers' plans of these services move in place: the next apply sends them whole again.
        for (const known of running.values()) for (const c of changes) known.delete(c.service);
        if (workerCount === 0) local?.updateServers(changes);
        else {
          // Answered once each worker has the change, so the engine announces a transition only when it is in force.
          const id = nextId++;
          await Promise.all([...workers.values()].filter((w) => w.isConnected()).map((w) => ask(w, { t: 'servers', id, changes }, APPLY_TIMEOUT_MS)));
        }
      };
      const p = applying.then(run, run);
      applying = p.catch(() => undefined);
      return p;
    },

    async counters() {
      let snap: CounterSnapshot;
      if (workerCount === 0) snap = local ? local.snapshot() : {};
      else {
        const id = nextId++;
        const replies = await Promise.all([...workers.values()].map((w) => ask(w, { t: 'stats', id }, 5000)));
        snap = sumSnapshots(replies.flatMap((r) => (r?.t === 'stats' ? [r.snapshot] : [])));
      }
      const out = new Map<string, { service: ServerCounters; servers: Map<string, ServerCounters> }>();
      for (const [name, v] of Object.entries(snap)) {
        out.set(name, { service: toServerCounters(v.service), servers: new Map(Object.entries(v.servers).map(([rs, c]) => [rs, toServerCounters(c)])) });
      }
      return out;
    },

    async close() {
      if (isClosed) return;
      isClosed = true;
      clearInterval(sweeper);
      for (const cancel of restarts) cancel();
      restarts.clear();
      await applying;
      if (local) await local.close(graceMs);
      await Promise.all(
        [...workers.values()].map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve();
              const kill = setTimeout(() => w.process.kill('SIGKILL'), graceMs + 3000);
              w.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              if (w.isConnected()) w.send({ t: 'close', graceMs } satisfies ToWorker);
              else w.process.kill('SIGTERM');
            }),
        ),
      );
      workers.clear();
    },

    workerPids() {
      return [...workers.values()].map((w) => w.process.pid!).filter(Boolean);
    },

    stickEntries() {
      // Workers: the primary holds every worker's entries (onStick). In-process, the one runtime holds them.
      if (workerCount === 0) return local?.stickDump() ?? [];
      const out: [string, string, StickEntry][] = [];
      for (const [table, t] of stick) for (const [k, e] of t) out.push([table, k, e]);
      return out;
    },

    stickTableSizes() {
      // The primary holds every worker's entries (onStick); expired ones not swept yet do not count.
      if (workerCount === 0) return null;
      const now = Date.now();
      return new Map([...stick].map(([table, t]) => [table, [...t.values()].filter((e) => e.expiresAt > now).length]));
    },
  };
  return plane;
}
