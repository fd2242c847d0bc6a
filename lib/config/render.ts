/**
 * Database rows → the engine's Config, in one function. The result is parsed with the one schema, so what the
 * console stores, shows as pending and sends is exactly what the engine will accept.
 */
import { createConfigParser, type Config } from '../../engine/config/index.ts';
import type { Tx } from '../db.ts';
import { db, sqlQuery } from '../db.ts';
import { Prisma } from '../generated/prisma/client.ts';
import { openPrivateKey } from '../secrets.ts';

/**
 * Real servers in the order they were added. Those added by one request share a createdAt (Prisma takes now() once
 * per query); their cuid ids then keep the order (a cuid starts with its time and a per-process counter).
 */
export const RS_ORDER = [{ createdAt: 'asc' as const }, { id: 'asc' as const }];

/** Where the rows are read: db()'s client, or a transaction of it (the candidate as that transaction sees it). */
type Reader = Tx | ReturnType<typeof db>;

/** ConfigSchema's parse, remembering each service's (engine/config/memo-parse.ts): the table changes a little at a time. */
const parseConfig = createConfigParser();

type ServiceText = { id: string; spec: string; realServers: { spec: string; state: string }[] };

/**
 * The stored texts of every service with its real servers, in the order the Prisma query
 * `findMany({ orderBy: [position, createdAt], select: { spec, realServers: { orderBy: RS_ORDER } } })` gives them, in
 * two plain statements on the connection (sqlQuery, lib/db.ts): that query's compiling and mapping of 1,000 services
 * and 2,000 real servers was about 30 ms of a one-weight apply.
 */
async function serviceTexts(reader: Reader): Promise<ServiceText[]> {
  const services = await sqlQuery<ServiceText[]>(reader, Prisma.sql`SELECT id, spec FROM "VirtualService" ORDER BY position ASC, createdAt ASC`);
  const servers = await sqlQuery<{ virtualServiceId: string; spec: string; state: string }[]>(
    reader,
    Prisma.sql`SELECT virtualServiceId, spec, state FROM "RealServer" ORDER BY createdAt ASC, id ASC`,
  );
  const byId = new Map<string, ServiceText>();
  for (const s of services) {
    s.realServers = [];
    byId.set(s.id, s);
  }
  // Every real server belongs to a service (the foreign key); each service's keep RS_ORDER.
  for (const r of servers) byId.get(r.virtualServiceId)?.realServers.push({ spec: r.spec, state: r.state });
  return services;
}

export async function renderCandidate(reader: Reader = db()): Promise<Config> {
  // Only the stored texts: the other columns are the same facts in query form.
  const services = await serviceTexts(reader);
  const certificates = await sqlQuery<{ name: string; certificatePem: string; privateKeyPem: string }[]>(
    reader,
    Prisma.sql`SELECT name, certificatePem, privateKeyPem FROM "Certificate" ORDER BY name ASC`,
  );
  const floatingIps = await sqlQuery<{ address: string; interface: string; prefixLength: number | null }[]>(
    reader,
    Prisma.sql`SELECT address, interface, prefixLength FROM "FloatingIp" ORDER BY address ASC`,
  );
  // No row: a single node (lib/ha-settings.ts).
  const [ha] = await sqlQuery<{ spec: string }[]>(reader, Prisma.sql`SELECT spec FROM "HaSettings" WHERE id = 1`);
  // A service's key is its rows' stored texts (JSON has no raw control characters, so the separators cannot occur in
  // them): one whose rows did not change is not even read as JSON again.
  const parsed = parseConfig.keyed(
    services.map((vs) => ({
      key: `${vs.spec}\u0000${vs.realServers.map((rs) => `${rs.spec}\u0001${rs.state}`).join('\u0000')}`,
      input: () => ({ ...JSON.parse(vs.spec), realServers: vs.realServers.map((rs) => ({ ...JSON.parse(rs.spec), state: rs.state })) }),
    })),
    {
      // Private keys are sealed in their rows (lib/secrets.ts); the engine gets them open.
      certificates: certificates.map((c) => ({ name: c.name, certificatePem: c.certificatePem, privateKeyPem: openPrivateKey(c.name, c.privateKeyPem) })),
      floatingIps: floatingIps.map((f) => ({
        address: f.address,
        interface: f.interface,
        ...(f.prefixLength !== null ? { prefixLength: f.prefixLength } : {}),
      })),
      ...(ha ? { ha: JSON.parse(ha.spec) } : {}),
    },
  );
  if (!parsed.success) throw parsed.error;
  return parsed.data;
}
