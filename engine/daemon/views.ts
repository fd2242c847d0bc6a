/**
 * Read-only views of what the engine runs, for the console's "Running" pages (GET /v1/views/config, /l4, /l7):
 *
 *   config  the running configuration as the engine holds it, each private key replaced by PRIVATE_KEY_HIDDEN
 *   l4      the kernel's IPVS table with counters, each service with the virtual service that owns it (the same model
 *           and text as `fulcrumctl show`); where this kernel has no IPVS, isAvailable false with the reason
 *   l7      per layer 7 service: where it listens, its pool with each server's state, its stick-table sizes
 *
 * Nothing here changes anything; the IPVS read opens its own netlink socket, apart from the data plane's.
 */
import { mapPrivateKeys } from '../secrets.ts';
import type { IpvsPort } from '../l4/client.ts';
import { openIpvsProcess } from '../l4/ipvs-process.ts';
import { serviceKey } from '../l4/model.ts';
import { Ownership } from '../l4/ownership.ts';
import { formatTable } from '../cli/show.ts';
import { EngineError } from '../errors.ts';
import type { L4TableView, L7RuntimeView, RunningConfigView } from '../api-types.ts';
import type { Engine } from './engine.ts';

export const PRIVATE_KEY_HIDDEN = '(private key held by the engine; never shown)';

export function configView(engine: Engine): RunningConfigView {
  const { running } = engine.runningView();
  if (!running) return { running: null, config: null };
  return {
    running: { version: running.version, hash: running.hash, appliedAt: running.appliedAt },
    config: mapPrivateKeys(running.config, () => PRIVATE_KEY_HIDDEN),
  };
}

/** `open` is the IPVS client to read with (tests hand in one); the default opens the kernel's. */
export async function l4View(engine: Engine, open: () => Promise<Pick<IpvsPort, 'info' | 'table' | 'close'>> = openIpvsProcess): Promise<L4TableView> {
  let client: Pick<IpvsPort, 'info' | 'table' | 'close'>;
  try {
    client = await open();
  } catch (e) {
    return { isAvailable: false, reason: e instanceof EngineError ? e.message : String((e as Error).message ?? e), services: [], text: [] };
  }
  try {
    const [info, table] = await Promise.all([client.info(), client.table()]);
    const own = new Ownership(engine.runningView().dataDir);
    const owner = (k: string) => (own.services.has(k) ? (own.labels.get(k) ?? '(unnamed)') : undefined);
    const owned = table.filter((s) => owner(serviceKey(s))).length;
    const header = `IP Virtual Server version ${info.version} (size=${info.connectionTableSize}) — ${table.length} service${table.length === 1 ? '' : 's'}, ${owned} owned by Fulcrum`;
    return {
      isAvailable: true,
      version: info.version,
      connectionTableSize: info.connectionTableSize,
      services: table.map((s) => ({ ...s, owner: owner(serviceKey(s)) ?? null })),
      text: formatTable(table, owner, header),
    };
  } finally {
    client.close();
  }
}

/** A data plane that can count its stick tables says so (engine/l7: the cluster primary holds every entry). */
interface StickCounting {
  stickTableSizes?(): Map<string, number> | null;
}

const TABLE_OF: Record<string, string | undefined> = { 'source-ip': 'source', 'app-cookie': 'app', 'rdp-cookie': 'rdp' };

export async function l7View(engine: Engine): Promise<L7RuntimeView> {
  const { running, dataPlanes } = engine.runningView();
  if (!running) return { services: [] };
  const status = await engine.status();
  const plane = dataPlanes.find((d) => d.name === 'l7') as (StickCounting & object) | undefined;
  const sizes = plane?.stickTableSizes?.() ?? null;
  const services: L7RuntimeView['services'] = [];
  for (const vs of running.config.virtualServices) {
    if (vs.layer !== 7) continue;
    const st = status.services.find((s) => s.name === vs.name);
    const result = running.results.find((r) => r.name === vs.name);
    const ports = vs.ports.filter((p): p is number => typeof p === 'number');
    const isListening = result?.status === 'programmed';
    services.push({
      name: vs.name,
      mode: vs.mode,
      status: result?.status ?? 'not-programmed',
      message: result?.message ?? 'No data plane reported on this service.',
      listeners: isListening ? ports.map((p) => (vs.address.includes(':') ? `[${vs.address}]:${p}` : `${vs.address}:${p}`)) : [],
      scheduler: vs.scheduler,
      persistence: vs.persistence.type,
      isTls: !!vs.layer7?.tls,
      servers: vs.realServers.map((rs) => {
        const s = st?.realServers.find((x) => x.name === rs.name);
        return {
          name: rs.name,
          address: rs.address,
          port: rs.port ?? null,
          weight: s?.decision.weight ?? rs.weight,
          operator: rs.state,
          health: s?.health ?? 'unknown',
          disposition: s?.decision.disposition ?? 'serve',
          isBackup: rs.isBackup,
          group: rs.group ?? null,
          activeConnections: s?.counters?.activeConnections ?? null,
        };
      }),
      // Source-IP, application-cookie and RDP-cookie persistence keep a table (engine/l7/service.ts); an inserted
      // cookie carries the server itself, so that service has none.
      stickTables:
        sizes === null
          ? null
          : TABLE_OF[vs.persistence.type]
            ? [{ table: `${vs.name}/${TABLE_OF[vs.persistence.type]}`, entries: sizes.get(`${vs.name}/${TABLE_OF[vs.persistence.type]}`) ?? 0 }]
            : [],
    });
  }
  return { services };
}
