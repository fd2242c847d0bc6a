/**
 * The one place that decides what a real server does, from what a person set (operator state), what the checker
 * found (health) and what the server itself said (feedback: a feedback agent's admin state and weight, or an
 * external check's dynamic weight). Checkers only report; data planes only obey the decision.
 *
 *   operator │ agent admin │ health          │ disposition     │ weight    │ new conns │ existing / persistent clients
 *   ─────────┼─────────────┼─────────────────┼─────────────────┼───────────┼───────────┼──────────────────────────────
 *   halt     │ any         │ any             │ remove          │ (removed) │ no        │ cut
 *   drain    │ any         │ any             │ quiesce         │ 0         │ no        │ continue
 *   online   │ maint       │ any             │ quiesce         │ 0         │ no        │ continue (l4) / fail over (l7)
 *   online   │ drain       │ any             │ quiesce         │ 0         │ no        │ continue
 *   online   │ ready/none  │ down            │ quiesce¹        │ 0         │ no        │ continue (l4) / fail over (l7)
 *   online   │ ready/none  │ up or unknown   │ serve²          │ effective │ yes       │ yes
 *
 *   ¹ `remove` instead when the service's check says onDown: 'remove' (keepalived without inhibit_on_failure), and
 *     always for a layer 4 service with source-IP persistence: IPVS honours a client's persistence template while its
 *     destination exists, even at weight 0, so a quiesced dead server would keep its persistent clients for the whole
 *     persistence timeout. keepalived's answer, the expire_quiescent_template sysctl, expires templates of every
 *     weight-0 destination, which would make a person's drain move persistent clients too (a drain must let them
 *     finish). Removing only the health-down destination expires only its templates; its open connections are held by
 *     the kernel (expire_nodest_conn stays 0) and resume if the server returns before they time out.
 *   ² `quiesce` when the effective weight is 0 (a 0 % agent reply, a dynamic weight of 0): like a drain.
 *   effective weight = (dynamic weight ?? configured weight) × (agent percent ?? 100) / 100, rounded, and at least 1
 *   while the percent is above 0 (HAProxy's agent weights behave the same way), at most 65535.
 *   An agent saying `down` counts as health down; `up` leaves health to the checks.
 *
 * A server's own agent can take it out of rotation but never cut open sessions: only a person halts.
 * "unknown" (no check has finished yet, or checks are off) counts as up, as keepalived and HAProxy do at start:
 * a fresh apply must not take a service out of rotation while its first checks run. A service that wants the
 * opposite sets `startsDown`, and the monitor then reports its servers down until their first pass.
 */
import type { Config, HealthState, OperatorState, VirtualService } from './config/index.ts';
import { serverKey, type ServerKey } from './dataplane.ts';

export type Disposition = 'serve' | 'quiesce' | 'remove';

export interface ServerDecision {
  disposition: Disposition;
  /** The weight to program: the effective weight when serving, 0 when quiescent or removed. */
  weight: number;
  /** Whether the server is health-down (a layer 7 proxy stops sending even persistent clients to it). */
  isHealthDown: boolean;
}

/** What the server said about itself (engine/health/monitor.ts keeps the latest). */
export interface Feedback {
  /** A feedback agent's percentage of the configured weight. */
  weightPercent?: number;
  admin?: 'ready' | 'drain' | 'maint';
  /** A feedback agent's `down` holds the server down; `up` is the same as saying nothing. */
  agentHealth?: 'up' | 'down';
  /** An external check's dynamic weight (exit code − 2), replacing the configured weight. */
  dynamicWeight?: number;
}

export interface DecideOptions {
  feedback?: Feedback;
  /** What health-down means for this server: quiesce (weight 0) or remove (see ¹). */
  onDown?: 'quiesce' | 'remove';
}

/** What health-down does to the servers of `vs` (see ¹ in the table above). */
export function onDownFor(vs: Pick<VirtualService, 'layer' | 'persistence' | 'healthCheck'>): 'quiesce' | 'remove' {
  if (vs.layer === 4 && vs.persistence.type === 'source-ip') return 'remove';
  return vs.healthCheck.onDown;
}

export function decideServer(operator: OperatorState, health: HealthState, configuredWeight: number, opts: DecideOptions = {}): ServerDecision {
  const fb = opts.feedback;
  const isHealthDown = health === 'down' || fb?.agentHealth === 'down' || fb?.admin === 'maint';
  if (operator === 'halt') return { disposition: 'remove', weight: 0, isHealthDown };
  if (operator === 'drain' || fb?.admin === 'drain' || fb?.admin === 'maint') return { disposition: 'quiesce', weight: 0, isHealthDown };
  if (isHealthDown) return { disposition: opts.onDown === 'remove' ? 'remove' : 'quiesce', weight: 0, isHealthDown };
  const weight = effectiveWeight(configuredWeight, fb);
  return weight > 0 ? { disposition: 'serve', weight, isHealthDown } : { disposition: 'quiesce', weight: 0, isHealthDown };
}

function effectiveWeight(configured: number, fb: Feedback | undefined): number {
  const base = fb?.dynamicWeight ?? configured;
  const pct = fb?.weightPercent;
  if (pct === undefined || base === 0) return base;
  if (pct <= 0) return 0;
  return Math.min(65535, Math.max(1, Math.round((base * pct) / 100)));
}

/** Every real server's decision, keyed by serverKey, as the daemon hands them to the data planes on each apply.
 * `health` gives a server's last health by that key, `feedback` what the server last said about itself. */
export function decideAll(
  config: Config,
  health: (key: ServerKey) => HealthState | undefined,
  feedback: (key: ServerKey) => Feedback | undefined = () => undefined,
): Map<ServerKey, ServerDecision> {
  const out = new Map<ServerKey, ServerDecision>();
  for (const vs of config.virtualServices) {
    const onDown = onDownFor(vs);
    for (const rs of vs.realServers) {
      const key = serverKey(vs.name, rs.name);
      out.set(key, decideServer(rs.state, health(key) ?? 'unknown', rs.weight, { feedback: feedback(key), onDown }));
    }
  }
  return out;
}
