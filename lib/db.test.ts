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
