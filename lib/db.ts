/**
 * The database: one SQLite file in the data directory, WAL, foreign keys on, migrations applied at start.
 *
 * Migrations are the SQL files Prisma authored under prisma/migrations; they are applied here in name order and
 * recorded in `_fulcrum_migrations`, so a fresh data directory needs no Prisma CLI at run time. The client is a
 * process-wide singleton kept on globalThis because Next bundles its own copy of this module beside the one the
 * custom server loads, and both must share one connection (the adapter serialises transactions on it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient, type Prisma } from './generated/prisma/client.ts';
import { consoleEnv } from './env.ts';
import { ensureAuditKeyAtStart } from './audit-key.ts';

export type Tx = Prisma.TransactionClient;

const MIGRATIONS_DIR = path.resolve(process.cwd(), 'prisma', 'migrations');

export function databasePath(dataDir = consoleEnv().dataDir): string {
  return path.join(dataDir, 'fulcrum.db');
}

/** Applies pending migrations; returns the names applied. Safe to call on every start. */
export function migrate(file: string): string[] {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.exec('CREATE TABLE IF NOT EXISTS _fulcrum_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
    const done = new Set(
      db
        .prepare('SELECT name FROM _fulcrum_migrations')
        .all()
        .map((r) => (r as { name: string }).name),
    );
    const names = fs
      .readdirSync(MIGRATIONS_DIR)
      .filter((n) => fs.existsSync(path.join(MIGRATIONS_DIR, n, 'migration.sql')))
      .sort();
    const applied: string[] = [];
    for (const name of names) {
      if (done.has(name)) continue;
      const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8');
      db.transaction(() => {
        db.exec(sql);
        db.prepare('INSERT INTO _fulcrum_migrations (name, applied_at) VALUES (?, ?)').run(name, new Date().toISOString());
      })();
      applied.push(name);
    }
    return applied;
  } finally {
    db.close();
  }
  // The database holds password hashes and private keys: owner only.
}

const g = globalThis as unknown as { __fulcrumDb?: { file: string; client: PrismaClient; dataDirEnv?: string; cwd: string } };

export function db(): PrismaClient {
  // Called several times per request: databasePath() builds the whole console environment (lib/env.ts, about 6 µs,
  // 2 % of an edit's CPU), but the data directory depends only on FULCRUM_DATA_DIR and the working directory.
  const cur = g.__fulcrumDb;
  if (cur && cur.dataDirEnv === process.env.FULCRUM_DATA_DIR && cur.cwd === process.cwd()) return cur.client;
  const file = databasePath();
  if (cur?.file === file) {
    cur.dataDirEnv = process.env.FULCRUM_DATA_DIR;
    cur.cwd = process.cwd();
    return cur.client;
  }
  migrate(file);
  fs.chmodSync(file, 0o600);
  ensureAuditKeyAtStart(path.dirname(file), file);
  const client = new PrismaClient({ adapter: withFailedCommitRecovery(new PrismaBetterSQLite3({ url: `file:${file}` })) });
  g.__fulcrumDb = { file, client, dataDirEnv: process.env.FULCRUM_DATA_DIR, cwd: process.cwd() };
  return client;
}

/**
 * Works around the driver adapter (6.19) wedging after a COMMIT that SQLite refused (SQLITE_FULL on a full disk):
 * Prisma then neither commits nor rolls back the adapter's transaction, so the adapter's transaction lock is never
 * released and every later write waits for ever. Here a refused COMMIT rolls the transaction back (SQLite keeps it
 * open after SQLITE_FULL; nothing of it was committed) and releases the lock, once.
 */
function withFailedCommitRecovery(factory: PrismaBetterSQLite3): PrismaBetterSQLite3 {
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter = await connect();
    const sqlite = (adapter as unknown as { client: Database.Database }).client;
    withStatementCache(sqlite);
    const start = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (level) => {
      const tx = await start(level);
      const execute = tx.executeRaw.bind(tx);
      tx.executeRaw = async (query) => {
        try {
          return await execute(query);
        } catch (e) {
          if (query.sql === 'COMMIT') {
            if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
            await tx.rollback();
            tx.commit = tx.rollback = () => Promise.resolve();
          }
          throw e;
        }
      };
      return tx;
    };
    return adapter;
  };
  return factory;
}

/** How many prepared statements a connection keeps (the edit path uses about twenty distinct texts). */
export const STATEMENT_CACHE_SIZE = 256;

/**
 * The adapter prepares every statement afresh (`prepare(sql).bind(args)`), about 6 % of the console's CPU on an edit
 * (bench/api-edit.ts). Here `prepare` answers a statement kept per SQL text (least recently used dropped past
 * STATEMENT_CACHE_SIZE: texts with IN lists vary), wrapped so the adapter's one-shot `bind` passes its arguments to
 * each call instead of binding the shared statement for good. SQLite re-prepares a kept statement itself when the
 * schema changed. Accepts what the adapter calls: `prepare(sql)`, then `.run()`, or `.bind(args)` and then
 * `.reader`, `.run()`, `.columns()`, `.raw().all()`.
 */
function withStatementCache(sqlite: Database.Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const kept = new Map<string, Database.Statement>();
  const cached = (sql: string): Database.Statement => {
    let s = kept.get(sql);
    if (s) {
      kept.delete(sql);
    } else {
      s = prepare(sql);
      if (kept.size >= STATEMENT_CACHE_SIZE) kept.delete(kept.keys().next().value!);
    }
    kept.set(sql, s);
    return s;
  };
  const bound = (s: Database.Statement, args: unknown[]) => ({
    reader: s.reader,
    run: () => s.run(args),
    columns: () => s.columns(),
    raw: (isRaw = true) => ({ all: () => s.raw(isRaw).all(args) }),
  });
  sqlite.prepare = ((sql: string) => {
    const s = cached(sql);
    return { reader: s.reader, run: (...args: unknown[]) => s.run(...args), bind: (args: unknown[]) => bound(s, args) };
  }) as unknown as typeof sqlite.prepare;
}

/**
 * An id as the schema's `@default(cuid())` makes one in Prisma's client (cuid v1, the generator its runtime
 * bundles): "c", the time in ms, a per-process counter, a fingerprint of process and host, 8 random characters, all
 * base 36. For rows written in plain SQL; ids made within one millisecond by one process sort in the order made.
 */
export function newId(): string {
  const n = ++idCounter.n >= ID_BLOCK ? (idCounter.n = 0) : idCounter.n;
  return `c${Date.now().toString(36)}${pad36(n, 4)}${FINGERPRINT}${pad36((Math.random() * ID_BLOCK) | 0, 4)}${pad36((Math.random() * ID_BLOCK) | 0, 4)}`;
}
const ID_BLOCK = 36 ** 4;
const pad36 = (n: number, width: number) => n.toString(36).padStart(width, '0').slice(-width);
const idCounter = { n: -1 };
const FINGERPRINT = (() => {
  let host: string;
  try {
    host = os.hostname();
  } catch {
    host = process.env._CLUSTER_NETWORK_NAME_ || process.env.COMPUTERNAME || 'hostname';
  }
  const sum = host.split('').reduce((a, c) => a + c.charCodeAt(0), host.length + 36);
  return pad36(process.pid, 2) + pad36(sum, 2);
})();

/** For tests: drop the singleton so the next db() opens the database of the current FULCRUM_DATA_DIR. */
export async function closeDb(): Promise<void> {
  const cur = g.__fulcrumDb;
  g.__fulcrumDb = undefined;
  await cur?.client.$disconnect();
}
