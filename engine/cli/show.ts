/**
 * `fulcrumctl show`: the kernel's IPVS table like `ipvsadm -Ln --stats`, plus which services Fulcrum owns and under
 * which virtual service name (from the data directory's ownership record). Read-only.
 */
import fs from 'node:fs';
import { IpvsClient } from '../l4/client.ts';
import { endpoint, schedulerFlagWords, serviceKey, type ObservedService, type Stats } from '../l4/model.ts';
import { Ownership } from '../l4/ownership.ts';
import { EngineError } from '../errors.ts';
import type { Io } from './main.ts';

const FWD: Record<string, string> = { masq: 'Masq', route: 'Route', tunnel: 'Tunnel', local: 'Local', bypass: 'Bypass' };

/**
 * The table as text. Every column is as wide as its widest cell or heading, so values stand under their headings
 * whatever the addresses' lengths (IPv6 included); counters are right-aligned. Services are sorted by key (a stable
 * order to read and diff); destinations in the order given (runShow passes ipvsadm -Ln's: the order they were added).
 */
export function formatTable(services: ObservedService[], owner: (key: string) => string | undefined, header: string): string[] {
  const heads = ['  -> RemoteAddress:Port', 'Forward', 'Weight', 'ActiveConn', 'InActConn', 'Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes'];
  const serviceHead = 'Prot LocalAddress:Port Scheduler Flags';
  const sorted = [...services].sort((a, b) => serviceKey(a).localeCompare(serviceKey(b)));
  const rows: { kind: 'service' | 'cells'; cells: string[] }[] = [];
  for (const s of sorted) {
    rows.push({ kind: 'service', cells: [`${serviceId(s)} ${serviceFlags(s)}`, owner(serviceKey(s)) ? `fulcrum ${owner(serviceKey(s))}` : '-'] });
    if (s.stats) rows.push({ kind: 'cells', cells: ['  (service)', '', '', '', '', ...counters(s.stats)] });
    for (const d of s.destinations) {
      rows.push({
        kind: 'cells',
        cells: [
          `  -> ${endpoint(d.address, d.port)}`,
          FWD[d.forward] ?? d.forward,
          String(d.weight),
          String(d.activeConnections),
          String(d.inactiveConnections),
          ...(d.stats ? counters(d.stats) : []),
        ],
      });
    }
  }
  const widths = heads.map((h) => h.length);
  for (const r of rows)
    if (r.kind === 'cells')
      r.cells.forEach((c, i) => {
        widths[i] = Math.max(widths[i], c.length);
      });
  // The first column holds the destinations' addresses and the services' "Prot address scheduler flags" alike.
  widths[0] = Math.max(widths[0], serviceHead.length, ...rows.filter((r) => r.kind === 'service').map((r) => r.cells[0].length));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[0]) : i === 1 ? c.padEnd(widths[1]) : c.padStart(widths[i])))
      .join(' ')
      .trimEnd();
  const out = [header, `${serviceHead.padEnd(widths[0])} Owner`, line(heads)];
  for (const r of rows) out.push(r.kind === 'service' ? `${r.cells[0].padEnd(widths[0])} ${r.cells[1]}` : line(r.cells));
  return out;
}

const serviceId = (s: ObservedService) =>
  s.fwmark !== undefined ? `FWM  ${s.fwmark}${s.family === 6 ? ' IPv6' : ''}` : `${s.protocol.toUpperCase().padEnd(4)} ${endpoint(s.address, s.port)}`;

/** The scheduler and the flags ipvsadm -Ln would print after it. */
function serviceFlags(s: ObservedService): string {
  const sched = schedulerFlagWords(s.scheduler, s.flags);
  return [
    s.scheduler,
    sched.length ? `(${sched.join(',')})` : '',
    s.flags & 1 ? `persistent ${s.timeout}` : '',
    s.flags & 1 && s.netmaskPrefix !== (s.family === 6 ? 128 : 32) ? `mask /${s.netmaskPrefix}` : '',
    s.flags & 4 ? 'ops' : '',
  ]
    .filter(Boolean)
    .join(' ');
}

const counters = (st: Stats) => [st.connections, st.packetsIn, st.packetsOut, st.bytesIn, st.bytesOut].map(String);

export async function runShow(dataDir: string, isJson: boolean, io: Io): Promise<number> {
  let client: IpvsClient;
  try {
    client = await IpvsClient.open();
  } catch (e) {
    io.err(e instanceof EngineError ? e.message : String(e));
    return 2;
  }
  try {
    const [info, dumped] = await Promise.all([client.info(), client.table()]);
    // The netlink dump lists a service's destinations newest first; ipvsadm -Ln (which operators compare this with)
    // lists them in the order they were added. Shown in ipvsadm's order, text and JSON alike.
    const table = dumped.map((s) => ({ ...s, destinations: [...s.destinations].reverse() }));
    const hasDataDir = fs.existsSync(dataDir);
    if (!hasDataDir)
      io.err(`warning: data directory ${dataDir} does not exist, so which services are Fulcrum's is unknown (give --data-dir or set FULCRUM_DATA_DIR)`);
    const own = new Ownership(dataDir);
    const owner = (k: string) => (own.services.has(k) ? (own.labels.get(k) ?? '(unnamed)') : undefined);
    if (isJson) {
      io.out(JSON.stringify({ version: info.version, services: table.map((s) => ({ ...s, owner: owner(serviceKey(s)) ?? null })) }, null, 2));
      return 0;
    }
    const owned = table.filter((s) => owner(serviceKey(s))).length;
    for (const l of formatTable(
      table,
      owner,
      `IP Virtual Server version ${info.version} (size=${info.connectionTableSize}) — ${table.length} service${table.length === 1 ? '' : 's'}, ${hasDataDir ? `${owned} owned by Fulcrum (data dir ${dataDir})` : `owners unknown (no data dir ${dataDir})`}`,
    ))
      io.out(l);
    return 0;
  } finally {
    client.close();
  }
}
