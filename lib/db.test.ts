/**
 * The migrations and schema.prisma describe the same database: a database built by applying every migration
 * (as the console does at start) has exactly the tables, columns and indexes of one built straight from the
 * schema. A schema edit without its migration fails here, not on a hospital's appliance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { migrate } from './db.ts';

function shape(file: string) {
  const db = new Database(file, { readonly: true });
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name").all() as {
      name: string;
    }[]
  ).map((t) => t.name);
  const out: Record<string, unknown> = {};
  for (const t of tables) {
    out[t] = {
      columns: db.prepare(`PRAGMA table_info("${t}")`).all(),
      indexes: (db.prepare(`PRAGMA index_list("${t}")`).all() as { name: string; unique: number }[])
        .map((i) => ({ name: i.name, unique: i.unique, columns: db.prepare(`PRAGMA index_info("${i.name}")`).all() }))
        .sort((a, b) => a.name.localeCompare(b.name)),
      foreignKeys: db.prepare(`PRAGMA foreign_key_list("${t}")`).all(),
    };
  }
  db.close();
  return out;
}

test('applying the migrations gives the database schema.prisma describes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-migrations-'));
  const migrated = path.join(dir, 'migrated.db');
  assert.ok(migrate(migrated).length >= 1);
  assert.deepEqual(migrate(migrated), [], 'a second start applies nothing');
  const sql = execFileSync('npx', ['prisma', 'migrate', 'diff', '--from-empty', '--to-schema-datamodel', 'prisma/schema.prisma', '--script'], {
    encoding: 'utf8',
    env: { ...process.env, FULCRUM_DATA_DIR: dir, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const direct = new Database(path.join(dir, 'direct.db'));
  direct.exec(sql);
  direct.close();
  assert.deepEqual(shape(migrated), shape(path.join(dir, 'direct.db')));
  const db = new Database(migrated, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("the console's own connection enforces foreign keys (deleting a service deletes its real servers)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-fk-'));
  process.env.FULCRUM_DATA_DIR = dir;
  const { db, closeDb } = await import('./db.ts');
  const [row] = (await db().$queryRawUnsafe('PRAGMA foreign_keys')) as { foreign_keys: bigint }[];
  assert.equal(Number(row.foreign_keys), 1);
  const vs = await db().virtualService.create({ data: { name: 'x', layer: 4, mode: 'nat', address: '10.0.0.1', spec: '{}' } });
  await db().realServer.create({ data: { name: 'r', address: '10.0.0.2', spec: '{}', virtualServiceId: vs.id } });
  await db().virtualService.delete({ where: { id: vs.id } });
  assert.equal(await db().realServer.count(), 0);
  await closeDb();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("newId makes ids as the schema's @default(cuid()) does in Prisma's client: same shape, same fingerprint, in order", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-id-'));
  process.env.FULCRUM_DATA_DIR = dir;
  const { db, closeDb, newId } = await import('./db.ts');
  const byPrisma = (await db().virtualService.create({ data: { name: 'x', layer: 4, mode: 'nat', address: '10.0.0.1', spec: '{}' } })).id;
  const ours = Array.from({ length: 2000 }, () => newId());
  for (const id of ours) {
    assert.match(id, /^c[a-z0-9]{24}$/);
    assert.equal(id.length, byPrisma.length);
    // c, 8 characters of time, 4 of counter, then the 4 of the process's and host's fingerprint.
    assert.equal(id.slice(13, 17), byPrisma.slice(13, 17), `fingerprint of ${id} and ${byPrisma}`);
  }
  assert.equal(new Set(ours).size, ours.length);
  assert.deepEqual([...ours].sort(), ours, 'ids made one after another sort in the order made (RS_ORDER breaks ties by id)');
  await closeDb();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('statements are prepared once per SQL text and each use binds its own arguments', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-stmt-'));
  process.env.FULCRUM_DATA_DIR = dir;
  const { db, closeDb, STATEMENT_CACHE_SIZE } = await import('./db.ts');
  const prepared: string[] = [];
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function (this: Database.Database, sql: string) {
    prepared.push(sql);
    return prepare.call(this, sql);
  } as typeof prepare;
  try {
    for (let i = 0; i < 5; i++) await db().$executeRaw`INSERT INTO "LoginThrottle" (key, failures, windowStart) VALUES (${`k${i}`}, ${i}, ${new Date()})`;
    for (let i = 0; i < 5; i++) {
      const rows = await db().$queryRaw<{ failures: number }[]>`SELECT failures FROM "LoginThrottle" WHERE key = ${`k${i}`}`;
      assert.deepEqual(
        rows.map((r) => Number(r.failures)),
        [i],
        'a kept statement answers for the arguments of this call, not the first',
      );
    }
    assert.equal(prepared.filter((s) => s.startsWith('INSERT INTO "LoginThrottle"')).length, 1);
    assert.equal(prepared.filter((s) => s.startsWith('SELECT failures')).length, 1);
    // Inside transactions too (BEGIN and COMMIT are statements of their own), and a failed statement leaves the
    // kept one usable.
    for (let i = 0; i < 3; i++) {
      await db().$transaction(async (tx) => {
        await tx.$executeRaw`UPDATE "LoginThrottle" SET failures = failures + 1 WHERE key = ${'k0'}`;
      });
    }
    await assert.rejects(db().$executeRaw`INSERT INTO "LoginThrottle" (key, failures, windowStart) VALUES (${'k1'}, ${1}, ${new Date()})`);
    await db().$executeRaw`INSERT INTO "LoginThrottle" (key, failures, windowStart) VALUES (${'k9'}, ${9}, ${new Date()})`;
    assert.equal(Number((await db().$queryRaw<{ failures: number }[]>`SELECT failures FROM "LoginThrottle" WHERE key = ${'k0'}`)[0].failures), 3);
    assert.equal(await db().loginThrottle.count(), 6);
    // More texts than are kept: the oldest are dropped, and prepared again when they come back.
    for (let i = 0; i <= STATEMENT_CACHE_SIZE; i++) await db().$queryRawUnsafe(`SELECT ${i} AS n`);
    const before = prepared.length;
    assert.deepEqual(await db().$queryRawUnsafe(`SELECT ${STATEMENT_CACHE_SIZE} AS n`), [{ n: BigInt(STATEMENT_CACHE_SIZE) }]);
    assert.equal(prepared.length, before, 'the newest text is still kept');
    assert.deepEqual(await db().$queryRawUnsafe('SELECT 0 AS n'), [{ n: 0n }]);
    assert.equal(prepared.length, before + 1, 'the oldest was dropped and is prepared again');
  } finally {
    Database.prototype.prepare = prepare;
    await closeDb();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlQuery answers what $queryRaw answers, and inside a transaction is part of it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-direct-'));
  process.env.FULCRUM_DATA_DIR = dir;
  const { db, closeDb, sqlQuery, sqlExecute } = await import('./db.ts');
  const { Prisma } = await import('./generated/prisma/client.ts');
  try {
    await db().user.create({ data: { username: 'a', passwordHash: 'x', role: 'admin', isDisabled: true } });
    await db().user.create({ data: { username: 'b', passwordHash: 'y', role: 'viewer', mustChangePassword: true } });
    await db().loginThrottle.create({ data: { key: 'k', failures: 3, windowStart: new Date('2026-01-02T03:04:05.678Z') } });
    // A date as SQLite writes one (CURRENT_TIMESTAMP's text, no zone): read as UTC by both.
    await db().$executeRaw`INSERT INTO "LoginThrottle" (key, failures, windowStart, lockedUntil) VALUES ('t', 0, '2026-01-02 03:04:05', NULL)`;
    const queries = [
      Prisma.sql`SELECT * FROM "User" ORDER BY username`,
      Prisma.sql`SELECT * FROM "LoginThrottle" ORDER BY key`,
      Prisma.sql`SELECT COUNT(*) AS n, MAX(failures) AS m, 1.5 AS f, NULL AS z, 'w' AS s FROM "LoginThrottle"`,
      Prisma.sql`SELECT u.username, u.isDisabled FROM "User" u WHERE u.isDisabled = ${true} AND u.createdAt < ${new Date(Date.now() + 60_000)}`,
      Prisma.sql`UPDATE "LoginThrottle" SET failures = failures + ${1} WHERE key = ${'k'} RETURNING key, failures, windowStart`,
    ];
    for (const q of queries) {
      const viaPrisma = await db().$queryRaw(q);
      const direct = await sqlQuery(db(), q);
      // The UPDATE ran twice: its second answer counts one more.
      if (q.sql.startsWith('UPDATE')) (viaPrisma as { failures: number }[])[0].failures += 1;
      assert.deepEqual(direct, viaPrisma, q.sql);
    }
    // Inside a transaction: its own writes are seen, and a rollback takes the direct statement's write too.
    await assert.rejects(
      db().$transaction(async (tx) => {
        await tx.$executeRaw`INSERT INTO "LoginThrottle" (key, failures, windowStart) VALUES ('p', 1, ${new Date()})`;
        assert.equal((await sqlQuery<{ key: string }[]>(tx, Prisma.sql`SELECT key FROM "LoginThrottle" WHERE key = 'p'`)).length, 1);
        assert.equal(await sqlExecute(tx, Prisma.sql`INSERT INTO "LoginThrottle" (key, failures, windowStart) VALUES ('q', 1, ${new Date()})`), 1);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await db().loginThrottle.count({ where: { key: { in: ['p', 'q'] } } }), 0);
    // SQLite's refusal is its own error, with its code.
    await assert.rejects(sqlExecute(db(), Prisma.sql`INSERT INTO "LoginThrottle" (key, failures, windowStart) VALUES ('k', 1, ${new Date()})`), {
      code: 'SQLITE_CONSTRAINT_PRIMARYKEY',
    });
  } finally {
    await closeDb();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a plain statement through a transaction that has expired is refused, not committed on its own', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-direct-'));
  process.env.FULCRUM_DATA_DIR = dir;
  const { db, closeDb, sqlQuery, sqlExecute } = await import('./db.ts');
  const { Prisma } = await import('./generated/prisma/client.ts');
  try {
    await db().user.count();
    // The callback outlives its transaction: Prisma's timeout (50 ms) rolls it back while the callback waits on
    // something that is not the database (a timer set after Prisma's, so it fires after it), then writes through
    // it. With $queryRaw that write failed ("Transaction already closed"); a plain statement on the connection must
    // fail as well, not commit by itself.
    let late: Promise<unknown> | undefined;
    const expired = db().$transaction(
      async (tx) => {
        await new Promise((r) => setTimeout(r, 300));
        late = sqlExecute(tx, Prisma.sql`INSERT INTO "LoginThrottle" (key, failures, windowStart) VALUES ('late', 1, ${new Date()})`);
        const read = sqlQuery(tx, Prisma.sql`SELECT key FROM "LoginThrottle"`);
        await read.catch(() => undefined);
        return late;
      },
      { timeout: 50 },
    );
    await assert.rejects(expired);
    assert.ok(late, 'the callback ran to its write');
    await assert.rejects(late, /transaction .*closed/i);
    assert.equal(await db().loginThrottle.count({ where: { key: 'late' } }), 0, 'nothing of the expired transaction is in the table');
    // The connection serves the next transaction as before.
    await db().$transaction((tx) => sqlExecute(tx, Prisma.sql`INSERT INTO "LoginThrottle" (key, failures, windowStart) VALUES ('next', 1, ${new Date()})`));
    assert.equal(await db().loginThrottle.count({ where: { key: 'next' } }), 1);
  } finally {
    await closeDb();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a statement from outside an open transaction waits for it and is not rolled back with it; one from inside it is part of it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-direct-'));
  process.env.FULCRUM_DATA_DIR = dir;
  const { db, closeDb, sqlExecute } = await import('./db.ts');
  const { Prisma } = await import('./generated/prisma/client.ts');
  const row = (key: string) => Prisma.sql`INSERT INTO "LoginThrottle" (key, failures, windowStart) VALUES (${key}, 1, ${new Date()})`;
  try {
    await db().user.count();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    // One request's transaction is open (BEGIN run) and waits on something else; it will roll back.
    // Next bundles its own copy of db.ts beside the custom server's: a transaction one copy opened is one to the
    // other too (its statements through tx run at once, not after the transaction: that waited for itself).
    const other = await import('./db.ts?next-copy' as string);
    assert.notEqual(other.sqlExecute, sqlExecute, 'a second instance of the module');
    const rolledBack = db().$transaction(async (tx) => {
      await sqlExecute(tx, row('in-tx'));
      await other.sqlExecute(tx, row('in-tx-other-copy'));
      entered();
      await held;
      // The database's own client, called from inside the callback (a helper that was not handed tx): part of this
      // transaction, as before, rather than waiting for the transaction it runs in.
      await sqlExecute(db(), row('nested'));
      throw new Error('roll back');
    });
    await inside;
    // Another request writes meanwhile, through the client, not through that transaction.
    const outside = [
      sqlExecute(db(), row('outside-sql')),
      db().loginThrottle.create({ data: { key: 'outside-prisma', failures: 1, windowStart: new Date() } }),
    ];
    release();
    await assert.rejects(rolledBack, /roll back/);
    await Promise.all(outside);
    const keys = (await db().loginThrottle.findMany({ orderBy: { key: 'asc' } })).map((r) => r.key);
    assert.deepEqual(keys, ['outside-prisma', 'outside-sql'], "the other request's writes are kept; the transaction's are gone");
  } finally {
    await closeDb();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
