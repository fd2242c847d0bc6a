/**
 * What a worker needs to run the layer 7 services, computed once in the primary from the config and the server
 * decisions. Plain data (it crosses the cluster IPC channel as JSON), defaults already applied by the schema.
 */
import { Layer7Schema, type Config, type Layer7Options, type Persistence, type VirtualService } from '../config/index.ts';
import { serverKey, type ServerKey } from '../dataplane.ts';
import type { ServerDecision } from '../server-state.ts';
import type { SchedulerKind } from './scheduler.ts';

export interface ServerPlan {
  name: string;
  address: string;
  /** undefined: the port the client connected to (no translation). */
  port?: number;
  weight: number;
  disposition: ServerDecision['disposition'];
  isHealthDown: boolean;
  /**
   * The configured maximum for the whole cluster (0 = unlimited). It is not divided among workers (that let
   * maxConnections 1 with 2 workers reach 2): a cluster worker takes each slot of a limited server from the primary
   * (slots.ts), and in-process the one runtime counts exactly.
   */
  maxConnections: number;
  isBackup: boolean;
  group?: string;
}

export interface CertPlan {
  name: string;
  certificatePem: string;
  privateKeyPem: string;
}

export interface ServicePlan {
  name: string;
  mode: 'http' | 'tcp';
  address: string;
  ports: number[];
  scheduler: SchedulerKind;
  persistence: Persistence;
  layer7: Layer7Options;
  fallback?: VirtualService['fallback'];
  servers: ServerPlan[];
  /** Default certificate first, then the SNI ones. */
  certificates: CertPlan[];
}

/** The schema's defaults for a layer 7 service that gave no `layer7` block (parsed, so they never drift from it). */
const DEFAULT_LAYER7: Layer7Options = Layer7Schema.parse({});

const SERVE: ServerDecision = { disposition: 'serve', weight: -1, isHealthDown: false };

/** Enabled layer 7 services as plans; layer 4 services are not this data plane's business. */
export function planServices(config: Config, decisions: ReadonlyMap<ServerKey, ServerDecision>): ServicePlan[] {
  const certs = new Map(config.certificates.map((c) => [c.name, c]));
  const out: ServicePlan[] = [];
  for (const vs of config.virtualServices) if (vs.layer === 7 && vs.isEnabled) out.push(planService(vs, certs, decisions));
  return out;
}

/** A plan and its JSON: what a worker is sent, and what says whether it already runs that plan (index.ts applyTo). */
export interface PlannedService {
  plan: ServicePlan;
  json: string;
}

/**
 * planServices with each plan and its JSON remembered by the parsed service it came from. A parsed configuration's
 * services are frozen and shared from one apply to the next (memo-parse.ts), so one whose servers' decisions and
 * certificates are as they were has the same plan: at 1,000 services, building and stringifying every plan again was
 * most of the layer 7 step of a one-weight apply (bench:apply). Remembered plans are frozen (whoever changes one
 * makes a new one); a service that is not frozen (built by hand, as tests do) is planned afresh every time.
 */
export class Planner {
  private memo = new WeakMap<VirtualService, PlannedService>();

  plan(config: Config, decisions: ReadonlyMap<ServerKey, ServerDecision>): PlannedService[] {
    const certs = new Map(config.certificates.map((c) => [c.name, c]));
    const out: PlannedService[] = [];
    for (const vs of config.virtualServices) {
      if (vs.layer !== 7 || !vs.isEnabled) continue;
      const known = this.memo.get(vs);
      if (known && isCurrent(known.plan, vs, certs, decisions)) {
        out.push(known);
        continue;
      }
      const plan = planService(vs, certs, decisions);
      const planned = { plan, json: JSON.stringify(plan) };
      if (Object.isFrozen(vs)) this.memo.set(vs, deepFreeze(planned));
      out.push(planned);
    }
    return out;
  }
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

type Certificates = ReadonlyMap<string, Config['certificates'][number]>;

/** Whether `plan` (made from `vs`) still says what planService would: the same decisions and certificates. */
function isCurrent(plan: ServicePlan, vs: VirtualService, certs: Certificates, decisions: ReadonlyMap<ServerKey, ServerDecision>): boolean {
  for (let i = 0; i < vs.realServers.length; i++) {
    const d = decisionOf(vs.name, vs.realServers[i], decisions);
    const s = plan.servers[i];
    if (s.weight !== d.weight || s.disposition !== d.disposition || s.isHealthDown !== d.isHealthDown) return false;
  }
  const now = certificatesOf(vs, certs);
  if (now.length !== plan.certificates.length) return false;
  return now.every(
    (c, i) =>
      c.name === plan.certificates[i].name &&
      c.certificatePem === plan.certificates[i].certificatePem &&
      c.privateKeyPem === plan.certificates[i].privateKeyPem,
  );
}

/** The default certificate first, then the SNI ones; a name no certificate has is left out. */
function certificatesOf(vs: VirtualService, certs: Certificates): CertPlan[] {
  const tls = (vs.layer7 ?? DEFAULT_LAYER7).tls;
  if (!tls) return [];
  return [tls.certificate, ...tls.sniCertificates]
    .map((n) => certs.get(n))
    .filter((c) => c !== undefined)
    .map((c) => ({ name: c.name, certificatePem: c.certificatePem, privateKeyPem: c.privateKeyPem }));
}

/** No decision yet (the daemon has not decided) counts as online and up, like server-state's "unknown". */
function decisionOf(service: string, rs: VirtualService['realServers'][number], decisions: ReadonlyMap<ServerKey, ServerDecision>): ServerDecision {
  return (
    decisions.get(serverKey(service, rs.name)) ?? {
      ...SERVE,
      weight: rs.state === 'halt' ? 0 : rs.weight,
      disposition: rs.state === 'online' ? 'serve' : rs.state === 'drain' ? 'quiesce' : 'remove',
    }
  );
}

function planService(vs: VirtualService, certs: Certificates, decisions: ReadonlyMap<ServerKey, ServerDecision>): ServicePlan {
  const l7 = vs.layer7 ?? DEFAULT_LAYER7;
  return {
    name: vs.name,
    mode: vs.mode as 'http' | 'tcp',
    address: vs.address,
    ports: vs.ports.filter((p): p is number => typeof p === 'number'),
    scheduler: vs.scheduler as SchedulerKind,
    persistence: vs.persistence,
    layer7: l7,
    fallback: vs.fallback,
    certificates: certificatesOf(vs, certs),
    servers: vs.realServers.map((rs) => {
      const d = decisionOf(vs.name, rs, decisions);
      return {
        name: rs.name,
        address: rs.address,
        port: rs.port,
        weight: d.weight,
        disposition: d.disposition,
        isHealthDown: d.isHealthDown,
        maxConnections: rs.maxConnections,
        isBackup: rs.isBackup,
        group: rs.group,
      };
    }),
  };
}
