/**
 * The contract between the engine's daemon and its data planes (l4: IPVS, l7: the proxy).
 *
 * The daemon owns the configuration and the server-state decision (engine/server-state.ts); a data plane receives
 * the whole desired configuration plus the decided state of every real server, and makes the world match it. A data
 * plane ignores services of the other layer. It never throws for one bad service: it reports per service.
 */
import type { Config, OperatorState, HealthState } from './config/index.ts';
import type { ServerDecision } from './server-state.ts';

export type DataPlaneName = 'l4' | 'l7';

export interface Capability {
  dataPlane: DataPlaneName;
  /** True only when this machine can really program this data plane now. */
  isAvailable: boolean;
  /** Why not, in words a person can act on ("IPVS is not available in this kernel (no ip_vs module)"). */
  reason?: string;
  /** Free-form facts: schedulers offered, kernel version, worker count … */
  details?: Record<string, unknown>;
}

/**
 * `programmed`: live in the kernel / proxy. `not-programmed`: accepted and valid, but this machine cannot run it
 * (reason in `message`). `failed`: tried and refused (then the daemon rolls the whole apply back). `removed`: gone.
 */
export type ServiceResultStatus = 'programmed' | 'not-programmed' | 'failed' | 'removed';

export interface ServiceResult {
  name: string;
  layer: 4 | 7;
  status: ServiceResultStatus;
  message: string;
  /** Error code from engine/errors.ts when status is failed or not-programmed. */
  code?: string;
  /** Operations performed (e.g. netlink messages sent), for the record. */
  operations?: number;
}

/** Key of a real server in maps: "<virtual service name>/<real server name>". */
export type ServerKey = `${string}/${string}`;
export const serverKey = (vs: string, rs: string): ServerKey => `${vs}/${rs}`;

export interface ServerCounters {
  activeConnections: number;
  inactiveConnections?: number;
  totalConnections: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn?: number;
  packetsOut?: number;
  requests?: number;
  responses?: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'other', number>;
  /** Mean response latency in ms over the recent window (layer 7). */
  latencyMs?: number;
}

/** What the health monitor last learnt about one real server, for the console. */
export interface ServerCheckStatus {
  /** The check kind ("connect", "http" …, or "none"). */
  type: string;
  /** "10.0.0.61:80", or the address alone for ping. */
  target: string;
  health: HealthState;
  /** When the health became what it is (the engine's start, for a server never checked yet). */
  since: string;
  /** The last result: status code (engine/health/status.ts), sentence, duration, when. Unset before the first. */
  code?: string;
  message?: string;
  durationMs?: number;
  lastCheckAt?: string;
  /** The feedback agent's last report, if the service runs one and it answered. */
  agent?: { weightPercent?: number; admin?: string; health?: string; message: string; at: string };
}

export interface ServiceStatus {
  name: string;
  layer: 4 | 7;
  status: ServiceResultStatus;
  message: string;
  counters?: ServerCounters;
  realServers: { name: string; operator: OperatorState; health: HealthState; decision: ServerDecision; counters?: ServerCounters; check?: ServerCheckStatus }[];
}

export interface ApplyInput {
  config: Config;
  /** The decided state of every real server, by serverKey. */
  decisions: ReadonlyMap<ServerKey, ServerDecision>;
}

export interface DataPlane {
  readonly name: DataPlaneName;
  capabilities(): Promise<Capability>;
  /** Make the running state match `input`; report every service of this layer. Must be idempotent. */
  apply(input: ApplyInput): Promise<ServiceResult[]>;
  /**
   * Optional: only the decisions of `changed` servers differ from the last apply (a health change). A data plane
   * that implements it changes just those servers, in place, and keeps its last results; one that does not is given
   * apply() instead.
   */
  updateServers?(input: ApplyInput, changed: readonly ServerKey[]): Promise<void>;
  /** Counters per service and real server, keyed by service name then server name. */
  counters(): Promise<Map<string, { service: ServerCounters; servers: Map<string, ServerCounters> }>>;
  close(): Promise<void>;
}
