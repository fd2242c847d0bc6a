/**
 * What keepalived's track script asks (GET /v1/ha/check on the engine's socket): may this node be the active one?
 * No when a service of the running configuration is `failed` or `not-programmed` on this node (its data plane
 * refused it, or this machine cannot run it: no IPVS, a port it cannot bind): the peer, which runs the same
 * configuration, should carry the traffic instead. Real servers being down is not a reason: both nodes see the
 * same servers. An engine that does not answer at all (dead, stopped, its event loop stuck) fails the check too,
 * because the script's request times out.
 *
 * Built from the results the engine already keeps, so the check costs no kernel round trip: keepalived asks every
 * second.
 */
import type { ServiceResult } from '../dataplane.ts';

export function dataPlaneProblems(results: readonly ServiceResult[] | undefined): string[] {
  return (results ?? []).filter((r) => r.status === 'failed' || r.status === 'not-programmed').map((r) => `${r.name}: ${r.message}`);
}
