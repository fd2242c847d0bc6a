/**
 * The database: one SQLite file in the data directory, WAL, foreign keys on, migrations applied at start.
 *
 * Migrations are the SQL files Prisma authored under prisma/migrations; they are applied here in name order and
 * recorded in `_fulcrum_migrations`, so a fresh data directory needs no Prisma CLI at run time. The client is a
 * process-wide singleton kept on globalThis because Next bundles its own copy of this module beside the one the
 * custom server loads, and both must share one connection (the adapter serialises transactions on it).
 */
import fs from 'node:fs';
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

const g = globalThis as unknown as { __fulcrumDb?: { file: string; client: PrismaClient } };

export function db(): PrismaClient {
  const file = databasePath();
  if (g.__fulcrumDb?.file === file) return g.__fulcrumDb.client;
  migrate(file);
  fs.chmodSync(file, 0o600);
  ensureAuditKeyAtStart(path.dirname(file), file);
  const client = new PrismaClient({ adapter: withFailedCommitRecovery(new PrismaBetterSQLite3({ url: `file:${file}` })) });
  g.__fulcrumDb = { file, client };
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

/** For tests: drop the singleton so the next db() opens the database of the current FULCRUM_DATA_DIR. */
export async function closeDb(): Promise<void> {
  const cur = g.__fulcrumDb;
  g.__fulcrumDb = undefined;
  await cur?.client.$disconnect();
}
