/** What the engine's daemon answers; shared by the daemon and its typed client. */
import type { Capability, ServiceResult, ServiceStatus } from './dataplane.ts';

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
  error?: { code: string; message: string; details?: unknown };
}

export interface EngineStatus {
  pid: number;
  startedAt: string;
  running: { version: number; hash: string; appliedAt: string } | null;
  capabilities: Capability[];
  services: ServiceStatus[];
}

export type EngineEvent =
  | { type: 'hello'; at: string; running: EngineStatus['running'] }
  | { type: 'applied'; at: string; version: number; hash: string; results: ServiceResult[] }
  | { type: 'apply-failed'; at: string; version: number; message: string }
  | { type: 'server-state'; at: string; virtualService: string; realServer: string; state: string }
  | { type: 'health'; at: string; virtualService: string; realServer: string; health: string }
  | { type: 'stats'; at: string; services: ServiceStatus[] };
