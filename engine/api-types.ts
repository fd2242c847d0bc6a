/** What the engine's daemon answers; shared by the daemon and its typed client. */
import type { Capability, ServiceResult, ServiceStatus } from './dataplane.ts';
import type { HealthState } from './config/index.ts';
import type { SupervisorStatus } from './ha/supervisor.ts';
import type { ObservedService } from './l4/model.ts';
import type { ServerDecision } from './server-state.ts';

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
  /** When the services' counters were read from the data planes: a status waits for the kernel at most a second,
   * then answers with the counters read last (engine/latest-read.ts). */
  countersReadAt: string;
  /** High availability (engine/ha/); absent when the configuration has no `ha` block. */
  ha?: HaStatus;
}

export type EngineEvent =
  /** First on every event stream; `startedAt` identifies this engine process (health transition seqs restart with it). */
  | { type: 'hello'; at: string; startedAt: string; running: EngineStatus['running'] }
  | { type: 'applied'; at: string; version: number; hash: string; results: ServiceResult[] }
  | { type: 'apply-failed'; at: string; version: number; message: string }
  | { type: 'server-state'; at: string; virtualService: string; realServer: string; state: string }
  | HealthTransitionEvent
  | HaEvent
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

export type VrrpStateName = 'INIT' | 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'DELETED';

/** What this node is in its HA pair, read from keepalived's notify FIFO, the kernel's addresses and IPVS. */
export interface HaStatus {
  isEnabled: boolean;
  /** This node's name (unset when the engine could not tell: see error). */
  node?: string;
  peers: { name: string; address: string }[];
  /** master: every VRRP instance is MASTER; fault: one is FAULT; stopped: keepalived is not running; else backup. */
  role: 'master' | 'backup' | 'fault' | 'stopped';
  instances: {
    name: string;
    interface: string;
    virtualRouterId: number;
    /** INIT until keepalived reports a state. */
    state: VrrpStateName;
    since: string;
    priority?: number;
    /** The addresses that move with this instance, and whether this node holds each now (read from the kernel). */
    addresses: { address: string; prefix: number; interface: string; isHeld: boolean }[];
  }[];
  keepalived: Omit<SupervisorStatus, 'recent' | 'error'> & { configPath: string };
  /** The IPVS connection sync daemon: what the VRRP state asks for, and what the kernel runs. */
  /** `running` is read back from the kernel at `readAt` (a status waits at most a second for it: latest-read.ts). */
  syncDaemon: {
    wanted: 'master' | 'backup' | 'off';
    settings?: { interface: string; syncId: number };
    running: { state: 'master' | 'backup'; interface: string; syncId: number }[];
    readAt?: string;
  };
  /** Layer 7 stick tables sent to the peers (engine/ha/stick-sync.ts): the link's counters, or why it is down. */
  stickSync?:
    | { address: string; port: number; peers: string[]; sent: number; received: number; refused: number; resyncsAsked: number; resyncsAnswered: number }
    | { error: { code: string; message: string } };
  /** The sysctls HA relies on (ip_nonlocal_bind) as the kernel has them now. */
  sysctls: Record<string, string | null>;
  /** The first thing stopping HA from working as configured, if any. */
  error?: { code: string; message: string };
  /** Set while an operator has handed this node's service to the peer (its track script then fails). */
  standby?: HaStandby | null;
}

export interface HaStandby {
  since: string;
  by: string;
  reason: string;
}

/** A VRRP state change of one instance, keepalived starting or exiting, or the sync daemon changing side. */
export interface HaEvent {
  type: 'ha';
  at: string;
  node?: string;
  kind: 'vrrp' | 'keepalived' | 'sync' | 'standby';
  /** The VRRP instance, for kind vrrp. */
  instance?: string;
  state: string;
  previous?: string;
  message: string;
}

/**
 * What the engine runs, for the console's "running configuration" views (GET /v1/views/*; engine/daemon/views.ts).
 * The configuration is the running one as the engine holds it, every private key replaced by a placeholder.
 */
export interface RunningConfigView {
  running: EngineStatus['running'];
  config: unknown;
}

/** The kernel's IPVS table like `ipvsadm -Ln --stats`, each service with the virtual service that owns it (or null). */
export interface L4TableView {
  isAvailable: boolean;
  /** Why the table cannot be read here (no IPVS in this kernel, no permission), in words. */
  reason?: string;
  version?: string;
  connectionTableSize?: number;
  services: (ObservedService & { owner: string | null })[];
  /** The same table as `fulcrumctl show` prints it (engine/cli/show.ts formatTable); empty when unavailable. */
  text: string[];
}

/** The layer 7 proxy's runtime: listeners, pools with each server's decided state, stick-table sizes. */
export interface L7RuntimeView {
  services: {
    name: string;
    mode: string;
    /** programmed, failed, removed … as the proxy last reported, with its sentence. */
    status: string;
    message: string;
    /** Where it listens ("127.0.0.1:8080"); empty unless programmed. */
    listeners: string[];
    scheduler: string;
    persistence: string;
    isTls: boolean;
    servers: {
      name: string;
      address: string;
      port: number | null;
      weight: number;
      operator: string;
      health: string;
      disposition: ServerDecision['disposition'];
      isBackup: boolean;
      group: string | null;
      activeConnections: number | null;
    }[];
    /** Live entries per stick table of this service; null when the proxy cannot count them (it runs in-process). */
    stickTables: { table: string; entries: number }[] | null;
  }[];
}
