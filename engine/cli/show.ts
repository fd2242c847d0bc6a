/**
 * `fulcrumctl show`: the kernel's IPVS table like `ipvsadm -Ln --stats`, plus which services Fulcrum owns and under
 * which virtual service name (from the data directory's ownership record). Read-only.
 */
import { IpvsClient } from '../l4/client.ts';
import { endpoint, serviceKey, type ObservedService } from '../l4/model.ts';
import { Ownership } from '../l4/ownership.ts';
import { EngineError } from '../errors.ts';
import type { Io } from './main.ts';

const FWD: Record<string, string> = { masq: 'Masq', route: 'Route', tunnel: 'Tunnel', local: 'Local', bypass: 'Bypass' };

export function formatTable(services: ObservedService[], owner: (key: string) => string | undefined, header: string): string[] {
  const lines = [header, 'Prot LocalAddress:Port Scheduler Flags              Owner', '  -> RemoteAddress:Port          Forward Weight ActiveConn InActConn      Conns    InPkts   OutPkts    InBytes   OutBytes'];
  const sorted = [...services].sort((a, b) => serviceKey(a).localeCompare(serviceKey(b)));
  for (const s of sorted) {
    const id = s.fwmark !== undefined ? `FWM  ${s.fwmark}${s.family === 6 ? ' IPv6' : ''}` : `${s.protocol.toUpperCase().padEnd(4)} ${endpoint(s.address, s.port)}`;
    const flags = [s.scheduler, s.flags & 1 ? `persistent ${s.timeout}` : '', s.flags & 1 && s.netmaskPrefix !== (s.family === 6 ? 128 : 32) ? `mask /${s.netmaskPrefix}` : '', s.flags & 4 ? 'ops' : ''].filter(Boolean).join(' ');
    const o = owner(serviceKey(s));
    lines.push(`${`${id} ${flags}`.padEnd(44)} ${o ? `fulcrum ${o}` : '-'}`);
    const st = s.stats;
    if (st) lines.push(`  (service)${' '.repeat(52)}${stat(st.connections, 10)}${stat(st.packetsIn, 10)}${stat(st.packetsOut, 10)}${stat(st.bytesIn, 11)}${stat(st.bytesOut, 11)}`);
    for (const d of s.destinations) {
      const ds = d.stats;
      lines.push(`  -> ${endpoint(d.address, d.port).padEnd(28)} ${(FWD[d.forward] ?? d.forward).padEnd(7)} ${String(d.weight).padEnd(6)} ${String(d.activeConnections).padEnd(10)} ${String(d.inactiveConnections).padEnd(10)}${ds ? `${stat(ds.connections, 10)}${stat(ds.packetsIn, 10)}${stat(ds.packetsOut, 10)}${stat(ds.bytesIn, 11)}${stat(ds.bytesOut, 11)}` : ''}`);
    }
  }
  return lines;
}

const stat = (n: number, w: number) => String(n).padStart(w);

export async function runShow(dataDir: string, isJson: boolean, io: Io): Promise<number> {
  let client: IpvsClient;
  try {
    client = await IpvsClient.open();
  } catch (e) {
    io.err(e instanceof EngineError ? e.message : String(e));
    return 2;
  }
  try {
    const [info, table] = await Promise.all([client.info(), client.table()]);
    const own = new Ownership(dataDir);
    const owner = (k: string) => (own.services.has(k) ? own.labels.get(k) ?? '(unnamed)' : undefined);
    if (isJson) {
      io.out(JSON.stringify({ version: info.version, services: table.map((s) => ({ ...s, owner: owner(serviceKey(s)) ?? null })) }, null, 2));
      return 0;
    }
    const owned = table.filter((s) => owner(serviceKey(s))).length;
    for (const l of formatTable(table, owner, `IP Virtual Server version ${info.version} (size=${info.connectionTableSize}) — ${table.length} service${table.length === 1 ? '' : 's'}, ${owned} owned by Fulcrum (data dir ${dataDir})`)) io.out(l);
    return 0;
  } finally {
    client.close();
  }
}
