/**
 * The check of one edited virtual service against every rule of the one schema (ConfigSchema), at a cost in
 * proportion to the edit rather than to the table.
 *
 * Why this is the same verdict as parsing the whole candidate: ConfigSchema's rules are of three kinds.
 *
 *   rule (engine/config/schema.ts)                       │ which other objects it can relate the edited service to
 *   ─────────────────────────────────────────────────────┼────────────────────────────────────────────────────────
 *   checkVirtualService (one service's own fields)       │ none
 *   unique service name                                  │ the service with the same name
 *   no two enabled services on one VIP, protocol, port   │ services on the same VIP (canonical address)
 *   unique firewall mark                                 │ services with the same mark
 *   TLS certificate references                           │ certificates with the names it references
 *   RIP:PORT in both L4 SNAT and L7 (firewall conflict)  │ L4 SNAT and L7 services with a real server on one of
 *                                                        │ its RIP:PORTs (the owner named is the last of them)
 *   HA block (checkHa), when one is staged               │ the floating IPs; services whose VIP is a listed moving
 *                                                        │ address; one enabled service per interface with a VIP
 *                                                        │ (the number of VRRP instances counts interfaces)
 *
 * So the candidate with the edit has an issue that involves the edited service exactly when the sub-configuration
 * made of it and those neighbours, in the candidate's order, has one; the rest of the candidate was checked when it
 * was edited. The sub-configuration is parsed with ConfigSchema itself, so no rule is copied here; check.test.ts
 * compares both verdicts over random tables. Apply still parses the whole configuration (render.ts, the engine).
 *
 * Issues about the edited service come back relative to it ("realServers.1.port"); issues about a neighbour keep
 * the full path, with its index in the whole candidate.
 */
import { ConfigSchema, canonicalAddress, type VirtualService } from '../../engine/config/index.ts';
import { expandPorts, portRange } from '../../engine/config/ports.ts';
import { Prisma } from '../generated/prisma/client.ts';
import { ApiError, validationError } from '../errors.ts';
import { sqlQuery, type Tx } from '../db.ts';
import { readServices, serviceIdByName } from './store.ts';

type Order = { position: number; createdAt: Date };

/** Certificates take part in the cross-object rules by name only; their PEMs were checked when they were uploaded. */
const STUB_CERT = { certificatePem: '-----BEGIN CERTIFICATE-----', privateKeyPem: '-----BEGIN PRIVATE KEY-----' };

const isV6 = (a: string) => a.includes(':');
const hasEndpointRule = (vs: { layer: number; mode: string }) => (vs.layer === 4 && vs.mode === 'snat') || vs.layer === 7;

/** The RIP:PORTs the L4 SNAT / L7 rule compares ("canonical|port"). */
function endpoints(vs: { ports: VirtualService['ports']; realServers: { address: string; port?: number | null }[] }): Set<string> {
  const vipPorts = expandPorts(vs.ports);
  const out = new Set<string>();
  for (const rs of vs.realServers) for (const p of rs.port != null ? [rs.port] : vipPorts) out.add(`${canonicalAddress(rs.address)}|${p}`);
  return out;
}

/** A `where` on an address column that finds every spelling of `addresses` (IPv6 rows are compared canonically after). */
function addressWhere(addresses: string[]) {
  const v4 = [...new Set(addresses.filter((a) => !isV6(a)))];
  const hasV6 = addresses.some(isV6);
  return { OR: [...(v4.length ? [{ address: { in: v4 } }] : []), ...(hasV6 ? [{ address: { contains: ':' } }] : [])] };
}

/** A port spec's first and last port in SQL, as portRange (engine/config/ports.ts) reads it: 80, or "8000-8100". */
const FIRST_PORT = Prisma.raw(`CASE WHEN p.type = 'integer' THEN p.value ELSE CAST(substr(p.value, 1, instr(p.value, '-') - 1) AS INTEGER) END`);
const LAST_PORT = Prisma.raw(`CASE WHEN p.type = 'integer' THEN p.value ELSE CAST(substr(p.value, instr(p.value, '-') + 1) AS INTEGER) END`);

/** More ports than this in an IN list (a real server without a port behind a wide range): no port filter in SQL. */
const MAX_PORTS_IN_QUERY = 500;

/**
 * Ids of the services a cross-object rule can relate `vs` to (see the table above), and whether another service
 * already has its name. A service on the same VIP counts only if one of its ports overlaps one of `vs`'s (the rule
 * compares nothing else between them): hundreds of services on one VIP, each on its own port, are no neighbours, and
 * selecting them all made every edit check the whole table (an O(n²) rule over 1,000 services, 150 ms per create).
 */
async function neighbours(tx: Tx, vs: VirtualService): Promise<{ ids: Set<string>; named?: string }> {
  const ids = new Set<string>();
  const named = await serviceIdByName(tx, vs.name);
  if (vs.ports.length > 0) {
    // IPv4 by its one spelling; IPv6 rows are compared canonically after (as addressWhere does). One condition or
    // the other, not both OR-ed under a bound flag: the planner cannot drop the branch that never holds, so that form
    // evaluated both on every row (91 -> 69 us at 1,000 services), and could use no index on address.
    const vip = canonicalAddress(vs.address);
    const ranges = JSON.stringify(vs.ports.map(portRange));
    const onVip = isV6(vs.address) ? Prisma.sql`instr(v.address, ':') > 0` : Prisma.sql`v.address = ${vs.address}`;
    // json_each parses a row's whole spec (about 0.8 us a row: 0.8 ms an edit with 1,000 services on one VIP). When
    // the edited service names single ports, a row can overlap one only if its spec's text has that number (a
    // single port of its own) or a range (ranges are strings "from-to" of digits, PortSpecSchema): rows with
    // neither are passed over before their JSON is parsed (880 -> 490 us there). Only the JSON decides.
    const singles = vs.ports.every((p) => typeof p === 'number') && vs.ports.length <= 16;
    const mayOverlap = singles
      ? Prisma.sql`AND (${Prisma.join(
          vs.ports.map((p) => Prisma.sql`instr(v.spec, ${String(p)}) > 0`),
          ' OR ',
        )} OR v.spec GLOB '*"[0-9]*-[0-9]*"*')`
      : Prisma.empty;
    const rows = await sqlQuery<{ id: string; address: string }[]>(
      tx,
      Prisma.sql`
      SELECT v.id, v.address FROM "VirtualService" v
      WHERE ${onVip} ${mayOverlap}
        AND EXISTS (SELECT 1 FROM json_each(v.spec, '$.ports') p, json_each(${ranges}) m
                    WHERE ${FIRST_PORT} <= json_extract(m.value, '$[1]') AND ${LAST_PORT} >= json_extract(m.value, '$[0]'))`,
    );
    for (const r of rows) if (canonicalAddress(r.address) === vip) ids.add(r.id);
  }
  if (vs.firewallMark !== undefined) {
    const rows = await sqlQuery<{ id: string }[]>(
      tx,
      Prisma.sql`SELECT id FROM "VirtualService" WHERE json_extract(spec, '$.firewallMark') = ${vs.firewallMark}`,
    );
    for (const r of rows) ids.add(r.id);
  }
  if (hasEndpointRule(vs) && vs.realServers.length > 0) {
    const mine = endpoints(vs);
    // A real server with its own port can share an endpoint only on one of mine; one without takes its VIP's ports.
    const ports = [...new Set([...mine].map((e) => Number(e.slice(e.lastIndexOf('|') + 1))))];
    const portWhere = ports.length <= MAX_PORTS_IN_QUERY ? [{ OR: [{ port: null }, { port: { in: ports } }] }] : [];
    const rows = await tx.realServer.findMany({
      where: {
        AND: [addressWhere(vs.realServers.map((r) => r.address)), ...portWhere],
        // An L7 service conflicts only with L4 SNAT ones on its endpoints (the rule names the last of those); an L4
        // SNAT one with L7 ones, and the other L4 SNAT ones on them decide which owner is named. Other L7 services on
        // the same real servers (the common case: many services, one pool of application servers) are no neighbours.
        virtualService: vs.layer === 7 ? { layer: 4, mode: 'snat' } : { OR: [{ layer: 4, mode: 'snat' }, { layer: 7 }] },
      },
      select: { address: true, port: true, virtualServiceId: true, virtualService: { select: { spec: true } } },
    });
    for (const r of rows) {
      if (ids.has(r.virtualServiceId)) continue;
      const ports = r.port != null ? [r.port] : expandPorts((JSON.parse(r.virtualService.spec) as VirtualService).ports ?? []);
      if (ports.some((p) => mine.has(`${canonicalAddress(r.address)}|${p}`))) ids.add(r.virtualServiceId);
    }
  }
  return { ids, named };
}

type Entry = { order: Order; row: { id: string } | null; spec: VirtualService };

/** What the HA rules need besides the edited service (see the table above); nothing when no HA block is staged. */
async function haContext(tx: Tx, vs: VirtualService, oldId: string | undefined, have: Set<string>) {
  // Plain SQL, as the other lookups every edit makes (store.ts): read afresh in the edit's transaction, never kept.
  const [row] = await sqlQuery<{ spec: string }[]>(tx, Prisma.sql`SELECT spec FROM "HaSettings" WHERE id = 1`);
  if (!row) return { block: undefined, floatingIps: [], extra: [] as Entry[] };
  const block = JSON.parse(row.spec) as { movingAddresses?: string[] };
  const floatingIps = (await tx.floatingIp.findMany({ orderBy: { address: 'asc' } })).map((f) => ({
    address: f.address,
    interface: f.interface,
    ...(f.prefixLength !== null ? { prefixLength: f.prefixLength } : {}),
  }));
  const ids = new Set<string>();
  if (block.movingAddresses?.length) {
    const wanted = new Set(block.movingAddresses.map(canonicalAddress));
    for (const r of await tx.virtualService.findMany({ where: addressWhere(block.movingAddresses), select: { id: true, address: true } }))
      if (wanted.has(canonicalAddress(r.address))) ids.add(r.id);
  }
  // Any one row per interface stands for it; the replaced row is left out, since the edit may move it elsewhere.
  const perInterface = await sqlQuery<{ id: string }[]>(
    tx,
    Prisma.sql`SELECT MIN(id) AS id FROM "VirtualService" WHERE id <> ${oldId ?? ''} AND json_extract(spec, '$.isEnabled') = 1 AND json_extract(spec, '$.interface') IS NOT NULL GROUP BY json_extract(spec, '$.interface')`,
  );
  for (const r of perInterface) ids.add(r.id);
  for (const id of [...ids]) if (have.has(id) || id === oldId) ids.delete(id);
  const rows = await readServices(tx, [...ids]);
  return { block, floatingIps, extra: rows.map(entryOf) };
}

type ServiceRow = Order & { id: string; spec: string; realServers: { spec: string; state: string }[] };
const entryOf = (r: ServiceRow): Entry => ({
  order: r,
  row: r,
  spec: { ...JSON.parse(r.spec), realServers: r.realServers.map((s) => ({ ...JSON.parse(s.spec), state: s.state })) },
});

const before = (a: Order, b: Order) => a.position - b.position || a.createdAt.getTime() - b.createdAt.getTime();

/** The row an edit replaces: its name, and where it stands in the candidate's order. */
export type Replaced = { id: string; name: string } & Order;

/**
 * Checks the candidate with `vs` put in place of `replacing` (a row, or the name of one) or added at the end. Throws
 * API_VALIDATION with the issues; resolves when the edit keeps the candidate valid.
 */
export async function checkCandidate(tx: Tx, vs: VirtualService, replacing?: string | Replaced): Promise<void> {
  const old =
    typeof replacing === 'string'
      ? await tx.virtualService.findUnique({ where: { name: replacing }, select: { id: true, name: true, position: true, createdAt: true } })
      : (replacing ?? null);
  const { ids, named } = await neighbours(tx, vs);
  if (named !== undefined && named !== old?.id) {
    throw new ApiError(
      'API_VALIDATION',
      { summary: `name: A virtual service named "${vs.name}" already exists.` },
      { fields: [{ path: 'name', message: `A virtual service named "${vs.name}" already exists.` }] },
    );
  }
  if (old) ids.delete(old.id);
  const rows = await readServices(tx, [...ids]);
  const at: Order = old ?? { position: Number.POSITIVE_INFINITY, createdAt: new Date(8.64e15) };
  const ha = await haContext(tx, vs, old?.id, ids);
  const entries: Entry[] = [...rows.map(entryOf), ...ha.extra, { order: at, row: null, spec: vs }].sort((a, b) => before(a.order, b.order));
  const refs = new Set(
    entries.flatMap((e) => [e.spec.layer7?.tls?.certificate, ...(e.spec.layer7?.tls?.sniCertificates ?? [])].filter((n): n is string => !!n)),
  );
  const certificates =
    refs.size === 0
      ? []
      : (await tx.certificate.findMany({ where: { name: { in: [...refs] } }, select: { name: true }, orderBy: { name: 'asc' } })).map((c) => ({
          name: c.name,
          ...STUB_CERT,
        }));
  const r = ConfigSchema.safeParse({
    virtualServices: entries.map((e) => e.spec),
    floatingIps: ha.floatingIps,
    certificates,
    ...(ha.block ? { ha: ha.block } : {}),
  });
  if (r.success) return;
  const mine = entries.findIndex((e) => e.row === null);
  // A neighbour's index in the whole candidate: how many services come before it there (the edited one takes the
  // replaced one's place, or comes last).
  const fullIndex = new Map<number, number>();
  for (const i of new Set(r.error.issues.map((x) => x.path[1]).filter((i): i is number => typeof i === 'number' && i !== mine))) {
    const o = entries[i].order;
    fullIndex.set(
      i,
      await tx.virtualService.count({ where: { OR: [{ position: { lt: o.position } }, { position: o.position, createdAt: { lt: o.createdAt } }] } }),
    );
  }
  throw validationError(
    r.error.issues.map((i) => {
      if (i.path[0] !== 'virtualServices' || typeof i.path[1] !== 'number') return i;
      if (i.path[1] === mine) return { ...i, path: i.path.slice(2) };
      return { ...i, path: ['virtualServices', fullIndex.get(i.path[1]) ?? i.path[1], ...i.path.slice(2)] };
    }),
  );
}
