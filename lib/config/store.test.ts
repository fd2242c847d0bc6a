/**
 * The edit path's plain SQL (store.ts) reads and writes the rows Prisma's model operations would: the same columns,
 * types and order read back through Prisma, versions and timestamps moved as Prisma moves them, and a unique index
 * SQLite enforced answered with the 409 a model operation's P2002 gives.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VirtualServiceSchema } from '../../engine/config/index.ts';
import { ApiError } from '../errors.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-store-'));
  process.env.FULCRUM_DATA_DIR = dir;
});
after(async () => {
  const { closeDb } = await import('../db.ts');
  await closeDb();
  fs.rmSync(dir, { recursive: true, force: true });
});

const service = (name: string, servers: number) =>
  VirtualServiceSchema.parse({
    name,
    layer: 4,
    mode: 'nat',
    protocol: 'tcp',
    address: '10.1.0.1',
    ports: [443],
    scheduler: 'wlc',
    healthCheck: { type: 'none' },
    realServers: Array.from({ length: servers }, (_, k) => ({ name: `${name}-app-${k + 1}`, address: `10.2.0.${k + 1}`, port: 8443, weight: 100 })),
  });

async function prismaRead(id: string) {
  const { db } = await import('../db.ts');
  const { RS_ORDER } = await import('./render.ts');
  const row = await db().virtualService.findUniqueOrThrow({
    where: { id },
    select: {
      id: true,
      name: true,
      version: true,
      spec: true,
      position: true,
      createdAt: true,
      updatedAt: true,
      realServers: {
        orderBy: RS_ORDER,
        select: { id: true, virtualServiceId: true, name: true, version: true, spec: true, state: true, createdAt: true, updatedAt: true },
      },
    },
  });
  return row;
}

test('a service written in plain SQL reads back through Prisma as it was answered, and through readService(s) the same', async () => {
  const { db } = await import('../db.ts');
  const { insertService, readService, readServices, vsColumns, nextPosition } = await import('./store.ts');
  // A row Prisma made first, so the plain INSERT's position comes after it as nextPosition's would.
  const first = await db().virtualService.create({ data: { ...vsColumns(service('by-prisma', 0)), position: 4 } });
  const written = await db().$transaction(async (tx) => {
    assert.equal(await nextPosition(tx), 5);
    return insertService(tx, service('plain', 6));
  });
  assert.equal(written.position, 5);
  assert.equal(written.version, 1);
  assert.ok(written.createdAt instanceof Date);
  assert.deepEqual(
    written.realServers.map((r) => r.name),
    ['plain-app-1', 'plain-app-2', 'plain-app-3', 'plain-app-4', 'plain-app-5', 'plain-app-6'],
    'real servers in RS_ORDER, as they were listed',
  );
  assert.deepEqual(written, await prismaRead(written.id));
  assert.deepEqual(await readService(db() as never, written.id), written);
  assert.equal(await readService(db() as never, 'nothing'), undefined);
  const both = await readServices(db() as never, [first.id, written.id, 'nothing']);
  assert.deepEqual(
    both.sort((a, b) => a.position - b.position),
    [await prismaRead(first.id), written],
  );
  assert.deepEqual(await readServices(db() as never, []), []);
});

test('updateService and insertRealServers move version and updatedAt as Prisma does; deleteService takes the real servers', async () => {
  const { db } = await import('../db.ts');
  const { insertService, insertRealServers, updateService, deleteService, serviceIdByName } = await import('./store.ts');
  const made = await db().$transaction((tx) => insertService(tx, service('edited', 2)));
  assert.equal(await serviceIdByName(db() as never, 'edited'), made.id);
  assert.equal(await serviceIdByName(db() as never, 'no such service'), undefined);
  const changed = { ...service('edited-again', 2), scheduler: 'rr' as const };
  const updated = await db().$transaction((tx) => updateService(tx, made.id, changed));
  assert.equal(updated.version, 2);
  assert.equal(updated.name, 'edited-again');
  assert.equal(JSON.parse(updated.spec).scheduler, 'rr');
  assert.ok(updated.updatedAt.getTime() >= made.updatedAt.getTime());
  assert.equal(updated.createdAt.getTime(), made.createdAt.getTime());
  const stored = await db().virtualService.findUniqueOrThrow({ where: { id: made.id } });
  assert.deepEqual([stored.layer, stored.mode, stored.address, stored.version], [4, 'nat', '10.1.0.1', 2]);
  const [added] = await db().$transaction(async (tx) => {
    const rows = await insertRealServers(tx, made.id, [{ ...service('x', 1).realServers[0], name: 'extra', state: 'drain' }]);
    assert.equal((await updateService(tx, made.id)).version, 3, 'a real server added counts as an edit of its service');
    return rows;
  });
  assert.equal(added.state, 'drain');
  assert.deepEqual(
    (await prismaRead(made.id)).realServers.map((r) => r.name),
    ['edited-app-1', 'edited-app-2', 'extra'],
  );
  await assert.rejects(
    db().$transaction((tx) => updateService(tx, 'nothing')),
    (e: unknown) => e instanceof ApiError && e.code === 'API_NOT_FOUND',
  );
  await db().$transaction((tx) => deleteService(tx, made.id));
  assert.equal(await db().virtualService.count({ where: { id: made.id } }), 0);
  assert.equal(await db().realServer.count({ where: { virtualServiceId: made.id } }), 0);
});

test("a name SQLite's unique index refuses is the 409 naming the field that Prisma's P2002 gives", async () => {
  const { db } = await import('../db.ts');
  const { insertService, insertRealServers } = await import('./store.ts');
  const made = await db().$transaction((tx) => insertService(tx, service('taken', 1)));
  await assert.rejects(
    db().$transaction((tx) => insertService(tx, service('taken', 0))),
    (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.code, 'API_DUPLICATE');
      assert.equal(e.status, 409);
      assert.deepEqual(e.details, { fields: [{ path: 'name', message: 'This name is taken.' }] });
      assert.equal(e.message, 'There is already a virtual service with this name; choose another name.');
      return true;
    },
  );
  await assert.rejects(
    db().$transaction((tx) => insertRealServers(tx, made.id, service('taken', 1).realServers)),
    (e: unknown) => e instanceof ApiError && e.code === 'API_DUPLICATE' && e.message === 'There is already a real server with this name; choose another name.',
  );
  assert.equal(await db().virtualService.count({ where: { name: 'taken' } }), 1, 'nothing of the refused writes stayed');
});
