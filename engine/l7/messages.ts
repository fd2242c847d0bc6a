/** Messages between the primary (index.ts) and its workers (worker.ts) over the cluster IPC channel. JSON only. */
import type { ServicePlan } from './plan.ts';
import type { ServiceReport } from './runtime.ts';
import type { StickEntry } from './persistence.ts';
import type { CounterSnapshot } from './stats.ts';

/** A health (or feedback) change of one real server: its new decision, applied in place (no new runtime). */
export interface ServerChange {
  service: string;
  server: string;
  weight: number;
  disposition: 'serve' | 'quiesce' | 'remove';
  isHealthDown: boolean;
}

export type ToWorker =
  | { t: 'init'; ticketKeys: string; stick: [string, string, StickEntry][] }
  /**
   * The whole configuration: `plans` the worker is to run, plus `same`, the services it runs already with exactly
   * the plan it last reported running (index.ts sends only what changed; a service in neither is stopped). Answered
   * with a report for each of `plans` (the primary keeps those of `same`).
   */
  | { t: 'apply'; id: number; plans: ServicePlan[]; same?: string[] }
  /** Answered with 'applied' (no reports) once the worker has the new decisions. */
  | { t: 'servers'; id: number; changes: ServerChange[] }
  | { t: 'stats'; id: number }
  | { t: 'stick'; table: string; key: string; entry: StickEntry }
  | { t: 'close'; graceMs: number }
  /** Answer to a slot-acquire (slots.ts). */
  | { t: 'slot'; id: number; isGranted: boolean }
  /** A slot of `key` was given back somewhere: waiters may try again. */
  | { t: 'slot-free'; key: string };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'applied'; id: number; reports: ServiceReport[] }
  | { t: 'stats'; id: number; snapshot: CounterSnapshot }
  | { t: 'stick'; table: string; key: string; entry: StickEntry }
  | { t: 'log'; level: 'info' | 'warn' | 'error'; msg: string; fields?: object }
  | { t: 'slot-acquire'; id: number; key: string; max: number }
  | { t: 'slot-release'; key: string };
