/**
 * Virtual services and real servers as rows, and the check of a proposed candidate against every rule of the one
 * schema, including those across services, with the issues brought back to the paths of the object being edited.
 */
import type { RealServer, VirtualService } from '../../engine/config/index.ts';
import { Prisma } from '../generated/prisma/client.ts';
import { newId, sqlExecute, sqlQuery, type Tx } from '../db.ts';
import { ApiError, duplicateError } from '../errors.ts';

type VsRow = { id: string; name: string; version: number; spec: string; createdAt: Date; updatedAt: Date; realServers?: RsRow[] };
type RsRow = { id: string; name: string; version: number; spec: string; state: string; createdAt: Date; updatedAt: Date };

export function vsColumns(vs: VirtualService) {
  const { realServers: _rs, ...spec } = vs;
  return { name: vs.name, layer: vs.layer, mode: vs.mode, address: vs.address, spec: JSON.stringify(spec) };
}

export function rsColumns(rs: RealServer) {
  const { state: _s, ...spec } = rs;
  return { name: rs.name, address: rs.address, port: rs.port ?? null, spec: JSON.stringify(spec) };
}

export function rsView(r: RsRow) {
  return { id: r.id, version: r.version, ...JSON.parse(r.spec), state: r.state, createdAt: r.createdAt, updatedAt: r.updatedAt };
}

export function vsView(v: VsRow) {
  return {
    id: v.id,
    version: v.version,
    ...JSON.parse(v.spec),
    realServers: (v.realServers ?? []).map(rsView),
    createdAt: v.createdAt,
    updatedAt: v.updatedAt,
  };
}

/** The check of an edit against the whole schema, at the cost of the edit (check.ts). */
export { checkCandidate } from './check.ts';

/** The position after every service's, for a new one (a count would repeat a position once one was deleted). */
export async function nextPosition(tx: Tx): Promise<number> {
  const r = await tx.virtualService.aggregate({ _max: { position: true } });
  return (r._max.position ?? -1) + 1;
}

// ── plain SQL for the edit path ──────────────────────────────────────────────────────────────────────────────────
// Each Prisma model operation costs 0.4-1.7 ms of CPU in its query compiler (bench/api-edit.ts, a V8 profile of the
// console), the same statement as plain SQL about 0.2 ms; an edit makes several. The rows read and written here are
// the ones Prisma would read and write: ids made as the schema's @default(cuid()) makes them (newId, lib/db.ts),
// DateTime values bound as Dates (the adapter stores them as Prisma does, ISO 8601 text), version and updatedAt set
// as Prisma's `version: { increment: 1 }` and @updatedAt set them.

const VS_SELECT = Prisma.raw('id, name, version, spec, position, createdAt, updatedAt');
const RS_SELECT = Prisma.raw('id, virtualServiceId, name, version, spec, state, createdAt, updatedAt');

export type ServiceRow = VsRow & { position: number; realServers: (RsRow & { virtualServiceId: string })[] };

/**
 * A unique index SQLite enforced on a plain statement as the 409 a model operation's P2002 gives (duplicateError):
 * two writers that raced past the edit check get the same answer. sqlQuery gives SQLite's own error (code
 * SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed: VirtualService.name"); through $queryRaw (before the
 * connection is open) Prisma answers P2010 with the adapter's description of it.
 */
async function uniqueAs<T>(modelName: string, write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (e) {
    const meta = (e as { meta?: { driverAdapterError?: { cause?: { kind?: string } } } }).meta;
    if (meta?.driverAdapterError?.cause?.kind === 'UniqueConstraintViolation') throw duplicateError({ code: 'P2002', meta: { ...meta, modelName } }) ?? e;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      // The adapter's reading of the message (mapDriverError): the fields after "constraint failed: ".
      const fields = String(message)
        .split('constraint failed: ')
        .at(1)
        ?.split(', ')
        .map((f) => f.split('.').pop());
      throw duplicateError({ code: 'P2002', meta: { modelName, driverAdapterError: { cause: { constraint: { fields } } } } }) ?? e;
    }
    throw e;
  }
}

/** Real servers in the order `include: { realServers: { orderBy: RS_ORDER } }` gives them (createdAt, then id). */
const byCreation = (a: RsRow, b: RsRow) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The services with these ids and their real servers (RS_ORDER), in no particular order; two statements. */
export async function readServices(tx: Tx, ids: string[]): Promise<ServiceRow[]> {
  if (ids.length === 0) return [];
  const list = Prisma.join(ids);
  const services = await sqlQuery<ServiceRow[]>(tx, Prisma.sql`SELECT ${VS_SELECT} FROM "VirtualService" WHERE id IN (${list})`);
  if (services.length === 0) return services;
  const servers = await sqlQuery<ServiceRow['realServers']>(
    tx,
    Prisma.sql`
    SELECT ${RS_SELECT} FROM "RealServer" WHERE virtualServiceId IN (${list}) ORDER BY createdAt, id`,
  );
  const byId = new Map(services.map((s) => [s.id, s]));
  for (const s of services) s.realServers = [];
  for (const r of servers) byId.get(r.virtualServiceId)?.realServers.push(r);
  return services;
}

/** One service and its real servers, or undefined. */
export async function readService(tx: Tx, id: string): Promise<ServiceRow | undefined> {
  const [service] = await sqlQuery<ServiceRow[]>(tx, Prisma.sql`SELECT ${VS_SELECT} FROM "VirtualService" WHERE id = ${id}`);
  if (!service) return undefined;
  service.realServers = await sqlQuery<ServiceRow['realServers']>(
    tx,
    Prisma.sql`
    SELECT ${RS_SELECT} FROM "RealServer" WHERE virtualServiceId = ${id} ORDER BY createdAt, id`,
  );
  return service;
}

/** The id of the service named `name`, if there is one. */
export async function serviceIdByName(tx: Tx, name: string): Promise<string | undefined> {
  const [row] = await sqlQuery<{ id: string }[]>(tx, Prisma.sql`SELECT id FROM "VirtualService" WHERE name = ${name}`);
  return row?.id;
}

/** `vs` as a new service after every other (nextPosition's MAX in the same statement) and its real servers. */
export async function insertService(tx: Tx, vs: VirtualService): Promise<ServiceRow> {
  const c = vsColumns(vs);
  const now = new Date();
  const [row] = await uniqueAs(
    'VirtualService',
    sqlQuery<ServiceRow[]>(
      tx,
      Prisma.sql`
      INSERT INTO "VirtualService" (id, name, layer, mode, address, spec, position, version, createdAt, updatedAt)
      VALUES (${newId()}, ${c.name}, ${c.layer}, ${c.mode}, ${c.address}, ${c.spec},
              (SELECT COALESCE(MAX(position), -1) + 1 FROM "VirtualService"), 1, ${now}, ${now})
      RETURNING ${VS_SELECT}`,
    ),
  );
  row.realServers = await insertRealServers(tx, row.id, vs.realServers);
  return row;
}

/** New real servers of service `vsId` (one statement, none for none), in RS_ORDER; the service is not touched. */
export async function insertRealServers(tx: Tx, vsId: string, servers: RealServer[]): Promise<ServiceRow['realServers']> {
  if (servers.length === 0) return [];
  // One `now` for the statement, as Prisma's createMany gives; ids made in order break the tie in RS_ORDER.
  const now = new Date();
  const values = servers.map((rs) => {
    const c = rsColumns(rs);
    return Prisma.sql`(${newId()}, ${vsId}, ${c.name}, ${c.address}, ${c.port}, ${rs.state}, ${c.spec}, 1, ${now}, ${now})`;
  });
  const rows = await uniqueAs(
    'RealServer',
    sqlQuery<ServiceRow['realServers']>(
      tx,
      Prisma.sql`
      INSERT INTO "RealServer" (id, virtualServiceId, name, address, port, state, spec, version, createdAt, updatedAt)
      VALUES ${Prisma.join(values)} RETURNING ${RS_SELECT}`,
    ),
  );
  // RETURNING gives rows in no promised order.
  return rows.sort(byCreation);
}

/**
 * The service's columns replaced by `vs`'s (or, with none, only its version counted up: a real server of it was
 * edited), version + 1 and updatedAt now; answers the row without its real servers.
 */
export async function updateService(tx: Tx, id: string, vs?: VirtualService): Promise<Omit<ServiceRow, 'realServers'>> {
  const now = new Date();
  const set = vs
    ? (() => {
        const c = vsColumns(vs);
        return Prisma.sql`name = ${c.name}, layer = ${c.layer}, mode = ${c.mode}, address = ${c.address}, spec = ${c.spec},`;
      })()
    : Prisma.empty;
  const [row] = await uniqueAs(
    'VirtualService',
    sqlQuery<ServiceRow[]>(
      tx,
      Prisma.sql`
      UPDATE "VirtualService" SET ${set} version = version + 1, updatedAt = ${now} WHERE id = ${id} RETURNING ${VS_SELECT}`,
    ),
  );
  if (!row) throw new ApiError('API_NOT_FOUND', { what: `Virtual service ${id}` });
  return row;
}

/** The service and (by the foreign key's ON DELETE CASCADE) its real servers. */
export async function deleteService(tx: Tx, id: string): Promise<void> {
  await sqlExecute(tx, Prisma.sql`DELETE FROM "VirtualService" WHERE id = ${id}`);
}
