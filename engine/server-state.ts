/**
 * The one place that decides what a real server does, from what a person set (operator state) and what the
 * checker found (health). Checkers only report; data planes only obey the decision.
 *
 *   operator │ health          │ disposition │ weight        │ new conns │ existing conns / persistent clients
 *   ─────────┼─────────────────┼─────────────┼───────────────┼───────────┼────────────────────────────────────
 *   online   │ up or unknown   │ serve       │ configured    │ yes       │ yes
 *   online   │ down            │ quiesce     │ 0             │ no        │ continue (layer 4) / fail over (layer 7)
 *   drain    │ any             │ quiesce     │ 0             │ no        │ continue
 *   halt     │ any             │ remove      │ (destination removed)     │ cut
 *
 * "unknown" (no check has finished yet, or checks are off) counts as up, as keepalived and HAProxy do at start:
 * a fresh apply must not take a service out of rotation while its first checks run.
 */
import type { Config, HealthState, OperatorState } from './config/index.ts';
import { serverKey, type ServerKey } from './dataplane.ts';

export type Disposition = 'serve' | 'quiesce' | 'remove';

export interface ServerDecision {
  disposition: Disposition;
  /** The weight to program: the configured weight when serving, 0 when quiescent or removed. */
  weight: number;
  /** Whether the server is health-down (a layer 7 proxy stops sending even persistent clients to it). */
  isHealthDown: boolean;
}

export function decideServer(operator: OperatorState, health: HealthState, configuredWeight: number): ServerDecision {
  const isHealthDown = health === 'down';
  if (operator === 'halt') return { disposition: 'remove', weight: 0, isHealthDown };
  if (operator === 'drain' || isHealthDown) return { disposition: 'quiesce', weight: 0, isHealthDown };
  return { disposition: 'serve', weight: configuredWeight, isHealthDown };
}

/** Every real server's decision, keyed by serverKey, as the daemon
 * hands them to the data planes on each apply. `health` gives a server's last health result by that key. */
export function decideAll(config: Config, health: (key: ServerKey) => HealthState | undefined): Map<ServerKey, ServerDecision> {
  const out = new Map<ServerKey, ServerDecision>();
  for (const vs of config.virtualServices) {
    for (const rs of vs.realServers) {
      const key = serverKey(vs.name, rs.name);
      out.set(key, decideServer(rs.state, health(key) ?? 'unknown', rs.weight));
    }
  }
  return out;
}
