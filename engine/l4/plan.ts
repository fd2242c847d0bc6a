/**
 * plan(desired, observed, owned) → the minimal IPVS operations, and the services we must not touch. Pure.
 *
 *   desired │ observed │ owned │ operations
 *   ────────┼──────────┼───────┼────────────────────────────────────────────────────────────────────────
 *   yes     │ no       │  –    │ NEW_SERVICE, then NEW_DEST per destination
 *   yes     │ yes      │ yes   │ SET_SERVICE if settings differ; per destination NEW / SET (if settings differ) / DEL
 *   yes     │ yes      │ no    │ none: conflict (someone else's service; we never touch it)
 *   no      │ yes      │ yes   │ DEL_SERVICE (its destinations go with it)
 *   no      │ yes      │ no    │ none (not ours)
 *
 * Order: destination deletes, service deletes, service adds/changes, destination adds/changes — so a destination is
 * never added to a service that does not exist yet, and removals free addresses before anything reuses them.
 * A weight change is one SET_DEST; drain is one SET_DEST with weight 0; halt is one DEL_DEST.
 */
import type { Command } from './codec.ts';
import {
  destinationKey,
  sameDestinationSettings,
  sameServiceSettings,
  serviceKey,
  type Destination,
  type ObservedService,
  type Service,
  type ServiceId,
} from './model.ts';

export interface PlanInput {
  desired: readonly { service: Service; destinations: readonly Destination[] }[];
  observed: readonly ObservedService[];
  owned: ReadonlySet<string>;
}

export interface Plan {
  ops: Command[];
  /** Keys of desired services that exist in the kernel but are not ours. */
  conflicts: string[];
  /** Per service key, the operations planned for it (for per-service reporting). */
  opsByService: Map<string, number>;
}

const idOf = (s: ServiceId): ServiceId =>
  s.fwmark !== undefined ? { family: s.family, fwmark: s.fwmark } : { family: s.family, protocol: s.protocol, address: s.address, port: s.port };

const settingsOf = (s: Service): Service =>
  ({ ...idOf(s), scheduler: s.scheduler, flags: s.flags & ~0x2, timeout: s.timeout, netmaskPrefix: s.netmaskPrefix, peName: s.peName }) as Service;

export function plan({ desired, observed, owned }: PlanInput): Plan {
  const obs = new Map(observed.map((s) => [serviceKey(s), s]));
  const want = new Map(desired.map((d) => [serviceKey(d.service), d]));
  const delDests: Command[] = [];
  const delSvcs: Command[] = [];
  const svcOps: Command[] = [];
  const destOps: Command[] = [];
  const conflicts: string[] = [];
  const opsByService = new Map<string, number>();
  const count = (k: string, n = 1) => opsByService.set(k, (opsByService.get(k) ?? 0) + n);

  for (const [key, o] of obs) {
    if (!want.has(key) && owned.has(key)) {
      delSvcs.push({ cmd: 'del-service', service: idOf(o) });
      count(key);
    }
  }
  for (const [key, d] of want) {
    const o = obs.get(key);
    const id = idOf(d.service);
    if (!o) {
      svcOps.push({ cmd: 'new-service', service: settingsOf(d.service) });
      count(key);
      for (const dest of d.destinations) destOps.push({ cmd: 'new-dest', service: id, destination: dest });
      count(key, d.destinations.length);
      continue;
    }
    if (!owned.has(key)) {
      conflicts.push(key);
      continue;
    }
    if (!sameServiceSettings(d.service, o)) {
      svcOps.push({ cmd: 'set-service', service: settingsOf(d.service) });
      count(key);
    }
    const have = new Map(o.destinations.map((x) => [destinationKey(x), x]));
    const wantDests = new Map(d.destinations.map((x) => [destinationKey(x), x]));
    for (const [dk, x] of have) {
      if (!wantDests.has(dk)) {
        delDests.push({ cmd: 'del-dest', service: id, destination: { address: x.address, port: x.port } });
        count(key);
      }
    }
    for (const [dk, x] of wantDests) {
      const h = have.get(dk);
      if (!h) destOps.push({ cmd: 'new-dest', service: id, destination: x });
      else if (!sameDestinationSettings(x, h)) destOps.push({ cmd: 'set-dest', service: id, destination: x });
      else continue;
      count(key);
    }
  }
  return { ops: [...delDests, ...delSvcs, ...svcOps, ...destOps], conflicts, opsByService };
}
