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
  for (const vs of config.virtualServices) {
    if (vs.layer !== 7 || !vs.isEnabled) continue;
    const l7 = vs.layer7 ?? DEFAULT_LAYER7;
    const tls = l7.tls;
    const names = tls ? [tls.certificate, ...tls.sniCertificates] : [];
    out.push({
      name: vs.name,
      mode: vs.mode as 'http' | 'tcp',
      address: vs.address,
      ports: vs.ports.filter((p): p is number => typeof p === 'number'),
      scheduler: vs.scheduler as SchedulerKind,
      persistence: vs.persistence,
      layer7: l7,
      fallback: vs.fallback,
      certificates: names
        .map((n) => certs.get(n))
        .filter((c) => c !== undefined)
        .map((c) => ({ name: c.name, certificatePem: c.certificatePem, privateKeyPem: c.privateKeyPem })),
      servers: vs.realServers.map((rs) => {
        // No decision yet (the daemon has not decided) counts as online and up, like server-state's "unknown".
        const d = decisions.get(serverKey(vs.name, rs.name)) ?? {
          ...SERVE,
          weight: rs.state === 'halt' ? 0 : rs.weight,
          disposition: rs.state === 'online' ? 'serve' : rs.state === 'drain' ? 'quiesce' : 'remove',
        };
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
    });
  }
  return out;
}
