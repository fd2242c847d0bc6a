/**
 * checkWholeConfig's verdict (refused or not; not its issues) for a configuration that comes again and again with few
 * services changed, in work proportional to the change: memo-parse.ts's parser keeps one for the services it hands
 * out, which are deep-frozen and the same object while their input is the same.
 *
 * Every rule across services refuses a pair (or a service with the certificates):
 *   - two services of one name;
 *   - two enabled services on one VIP (or firewall mark) with overlapping ports and protocols, or one mark;
 *   - a layer 4 SNAT service and a layer 7 service with one RIP:PORT;
 *   - a TLS service naming a certificate that is not there;
 * so a configuration whose previous one was accepted is accepted iff no pair with a changed or new service is refused
 * and no reference of a service is dangling. The indexes below hold the accepted configuration's services (by object)
 * and are updated in place: the removed services leave them, then each new one is checked against them and joins.
 * At 1,000 services the whole check made ~1.9 MiB of garbage per apply (one weight changed), the largest part of the
 * engine's before its data planes. The certificates' own rules and the HA block's (which looks at every enabled VIP)
 * run whole, as in checkWholeConfig; the HA block only when there is one.
 *
 * A refusal leaves the indexes half updated: they are dropped and the next call checks everything afresh.
 */
import type { z } from 'zod';
import { canonicalAddress } from './address.ts';
import { expandPorts, portSpecsOverlap, protocolsOverlap } from './ports.ts';
import { type ConfigFields, checkHa, type VirtualService } from './schema.ts';

type Fields = z.infer<typeof ConfigFields>;
type Service = Fields['virtualServices'][number] | VirtualService;

/** Enabled services of one address (without a firewall mark) or one mark: all, those with a port range, by port. */
interface Group {
  all: Set<Service>;
  ranged: Set<Service>;
  byPort: Map<number, Set<Service>>;
}

export interface AcrossChecker {
  /** Whether checkWholeConfig would add no issue to `cfg`. Its services must not change after (memo-parse freezes them). */
  isAccepted(cfg: Fields): boolean;
}

const isSinglePorts = (vs: Service) => vs.ports.every((p) => typeof p === 'number');
const endpointKey = (vs: Service) => (vs.firewallMark !== undefined ? `mark ${vs.firewallMark}` : `address ${canonicalAddress(vs.address)}`);

/** The RIP|PORT keys of a service's real servers (a server without a port takes each of the VIP's). */
function serverEndpoints(vs: Service, each: (key: string) => boolean | undefined): boolean {
  let vipPorts: number[] | undefined;
  for (const rs of vs.realServers) {
    const address = canonicalAddress(rs.address);
    if (rs.port !== undefined) {
      if (each(`${address}|${rs.port}`) === false) return false;
      continue;
    }
    vipPorts ??= expandPorts(vs.ports);
    for (const port of vipPorts) if (each(`${address}|${port}`) === false) return false;
  }
  return true;
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, v: V): void {
  const set = map.get(key);
  if (set) set.add(v);
  else map.set(key, new Set([v]));
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, v: V): void {
  const set = map.get(key);
  if (set?.delete(v) && set.size === 0) map.delete(key);
}

export function createAcrossChecker(): AcrossChecker {
  /** The accepted configuration's services, each with the number of the call that last gave it. */
  const given = new Map<Service, number>();
  const names = new Map<string, Service>();
  const endpoints = new Map<string, Group>();
  /** RIP|PORT → the layer 4 SNAT services (snat) or layer 7 services (l7) with a real server there. */
  const snat = new Map<string, Set<Service>>();
  const l7 = new Map<string, Set<Service>>();
  const withTls = new Set<Service>();
  let certNames = new Set<string>();
  let pass = 0;

  const reset = () => {
    given.clear();
    names.clear();
    endpoints.clear();
    snat.clear();
    l7.clear();
    withTls.clear();
  };

  const hasCertificates = (vs: Service): boolean => {
    const tls = vs.layer7?.tls;
    return !tls || (certNames.has(tls.certificate) && tls.sniCertificates.every((n) => certNames.has(n)));
  };

  const conflictsAtEndpoint = (vs: Service): boolean => {
    const group = endpoints.get(endpointKey(vs));
    if (!group) return false;
    if (vs.firewallMark !== undefined) return group.all.size > 0;
    const overlaps = (other: Service) => protocolsOverlap(vs.protocol, other.protocol) && portSpecsOverlap(vs.ports, other.ports);
    if (!isSinglePorts(vs)) return [...group.all].some(overlaps);
    if ([...group.ranged].some(overlaps)) return true;
    return vs.ports.some((p) => [...(group.byPort.get(p as number) ?? [])].some(overlaps));
  };

  /** Checks `vs` against the indexed services, then indexes it; false (and nothing indexed) if a pair is refused. */
  const add = (vs: Service): boolean => {
    if (names.has(vs.name) || !hasCertificates(vs)) return false;
    if (vs.isEnabled && conflictsAtEndpoint(vs)) return false;
    const opposite = vs.layer === 7 ? snat : vs.mode === 'snat' ? l7 : undefined;
    if (opposite && !serverEndpoints(vs, (k) => !opposite.has(k))) return false;
    names.set(vs.name, vs);
    if (vs.layer7?.tls) withTls.add(vs);
    if (vs.isEnabled) {
      const key = endpointKey(vs);
      let group = endpoints.get(key);
      if (!group) endpoints.set(key, (group = { all: new Set(), ranged: new Set(), byPort: new Map() }));
      group.all.add(vs);
      if (!isSinglePorts(vs)) group.ranged.add(vs);
      else for (const p of vs.ports) addTo(group.byPort, p as number, vs);
    }
    const own = vs.layer === 7 ? l7 : vs.mode === 'snat' ? snat : undefined;
    if (own) serverEndpoints(vs, (k) => void addTo(own, k, vs));
    return true;
  };

  const remove = (vs: Service): void => {
    given.delete(vs);
    if (names.get(vs.name) === vs) names.delete(vs.name);
    withTls.delete(vs);
    if (vs.isEnabled) {
      const key = endpointKey(vs);
      const group = endpoints.get(key);
      if (group) {
        group.all.delete(vs);
        group.ranged.delete(vs);
        for (const p of vs.ports) if (typeof p === 'number') removeFrom(group.byPort, p, vs);
        if (group.all.size === 0) endpoints.delete(key);
      }
    }
    const own = vs.layer === 7 ? l7 : vs.mode === 'snat' ? snat : undefined;
    if (own) serverEndpoints(vs, (k) => void removeFrom(own, k, vs));
  };

  /** The certificates' own rule (no name twice); whether their names are those the indexed services were checked with. */
  const checkCertificates = (cfg: Fields): { isRefused: boolean; isSame: boolean } => {
    const seen = new Set<string>();
    for (const c of cfg.certificates) {
      if (seen.has(c.name)) return { isRefused: true, isSame: false };
      seen.add(c.name);
    }
    const isSame = seen.size === certNames.size && [...seen].every((n) => certNames.has(n));
    if (!isSame) certNames = seen;
    return { isRefused: false, isSame };
  };

  const isAcceptedAcross = (cfg: Fields): boolean => {
    const certs = checkCertificates(cfg);
    if (certs.isRefused) return false;
    const now = ++pass;
    let added: Service[] | undefined;
    const services = cfg.virtualServices;
    for (let i = 0; i < services.length; i++) {
      const vs = services[i];
      const was = given.get(vs);
      if (was === now) return false; // one object twice: one name twice
      if (was === undefined) (added ??= []).push(vs);
      else given.set(vs, now);
    }
    // Removed first: a service renamed or moved to another port frees its old name and endpoint for the others.
    if (given.size > services.length - (added?.length ?? 0))
      given.forEach((p, vs) => {
        if (p !== now) remove(vs);
      });
    if (added)
      for (const vs of added) {
        if (!add(vs)) return false; // a new object given twice is refused by its name
        given.set(vs, now);
      }
    if (!certs.isSame) for (const vs of withTls) if (!hasCertificates(vs)) return false;
    return true;
  };

  return {
    isAccepted(cfg) {
      let isAccepted = isAcceptedAcross(cfg);
      if (!isAccepted) reset();
      if (isAccepted && cfg.ha) {
        checkHa(cfg, {
          addIssue: () => {
            isAccepted = false;
          },
        } as unknown as z.RefinementCtx);
      }
      return isAccepted;
    },
  };
}
