/**
 * The shared checker record (keepalived's check_api.c has the same split): what one check of one target needs, and
 * the one function shape every kind implements. A checker only reports; the monitor (monitor.ts) applies rise and
 * fall, and engine/server-state.ts alone decides what the server then does.
 */
import type { HealthCheck } from '../config/index.ts';
import type { CheckResult } from './status.ts';

export interface CheckTarget {
  /** The real server's address. */
  address: string;
  /** The port to check: the check's port, else the real server's, else the VIP's first. Unset for ping. */
  port?: number;
  /** The virtual service's address and first port, handed to external commands. */
  vip: string;
  vipPort?: number;
  /** The service's check, with the real server's own timing and port already laid over it. */
  check: HealthCheck;
  /** Aborted when the check is no longer wanted (a new configuration, the engine stopping). */
  signal?: AbortSignal;
}

/**
 * Runs one check and resolves with its verdict; never rejects, and settles by `check.timeoutMs` (plus a few ms of
 * bookkeeping) whatever the peer does.
 */
export type Checker = (target: CheckTarget) => Promise<CheckResult>;

/**
 * What a feedback agent said (HAProxy's agent-check, Loadbalancer.org's feedback agent on port 3333). Each field is
 * unset when the agent did not say it; a reply may say several ("75% drain").
 *   - weightPercent: scales the configured weight (0 % takes the server out of new picks);
 *   - admin: `ready` clears an earlier drain/maint, `drain` stops new clients, `maint` stops new and persistent ones;
 *   - health: `down` (also HAProxy's `failed`, `stopped`) holds the server down, `up` lets the checks decide again.
 */
export interface AgentReport {
  weightPercent?: number;
  admin?: 'ready' | 'drain' | 'maint';
  health?: 'up' | 'down';
  /** The agent's words (after '#'), or the reply as read, for the console. */
  message: string;
}

export interface AgentTarget {
  address: string;
  port: number;
  timeoutMs: number;
  send?: string;
  signal?: AbortSignal;
}

/** Resolves with the agent's report, or null when it could not be reached or said nothing usable: an unreachable
 * agent is not a failure (HAProxy ignores it too), it leaves the last report in force. */
export type AgentChecker = (target: AgentTarget) => Promise<AgentReport | null>;
