/** What the engine's daemon answers; shared by the daemon and its typed client. */
import type { Capability, ServiceResult, ServiceStatus } from './dataplane.ts';
import type { HealthState } from './config/index.ts';

export interface ApplyRequest {
  version: number;
  hash: string;
  config: unknown;
}

export interface ApplyResponse {
  ok: boolean;
  version: number;
  hash: string;
  results: ServiceResult[];
  /** When ok is false: the version still running. */
  runningVersion?: number | null;
  /** The version was already running with this hash: nothing was changed (a retried request). */
  isRepeat?: boolean;
  error?: { code: string; message: string; details?: unknown };
}

/** What became of one version sent to the engine, by its own record (GET /v1/applies?version=N). */
export interface ApplyOutcome {
  version: number;
  hash?: string;
  /** `applying`: started before its deadline and not finished yet. */
  status: 'applying' | 'applied' | 'failed' | 'expired';
  at: string;
  message?: string;
}

export interface EngineStatus {
  pid: number;
  startedAt: string;
  running: { version: number; hash: string; appliedAt: string } | null;
  capabilities: Capability[];
  services: ServiceStatus[];
}

export type EngineEvent =
  /** First on every event stream; `startedAt` identifies this engine process (health transition seqs restart with it). */
  | { type: 'hello'; at: string; startedAt: string; running: EngineStatus['running'] }
  | { type: 'applied'; at: string; version: number; hash: string; results: ServiceResult[] }
  | { type: 'apply-failed'; at: string; version: number; message: string }
  | { type: 'server-state'; at: string; virtualService: string; realServer: string; state: string }
  | HealthTransitionEvent
  | { type: 'stats'; at: string; services: ServiceStatus[] };

/**
 * One health transition of one real server, as the monitor saw it (engine/health/monitor.ts): streamed as it
 * happens and kept in a bounded log the console can catch up from (GET /v1/health/transitions?since=seq). `seq`
 * counts from 1 in each engine process; with the engine's `startedAt` it identifies a transition.
 */
export interface HealthTransitionEvent {
  type: 'health';
  at: string;
  seq: number;
  virtualService: string;
  realServer: string;
  previous: HealthState;
  health: HealthState;
  /** The check status code of the result that caused it (engine/health/status.ts), and its sentence. */
  code: string;
  message: string;
  durationMs: number;
  /** The check's kind and target ("http", "10.0.0.61:80"). */
  check: string;
  target: string;
}

export interface HealthTransitionsResponse {
  engineStartedAt: string;
  /** Oldest first; at most the log's size (older ones are gone). */
  transitions: HealthTransitionEvent[];
}
