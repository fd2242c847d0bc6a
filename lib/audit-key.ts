/**
 * The audit key: 32 random bytes (base64) in <data dir>/audit.key, owner-only, that every audit row's HMAC is made
 * under (lib/audit.ts). It is not in the database, so a copy of the database alone cannot be re-chained, and it must
 * never be in a backup: the backup issue must leave this file (and the seal key, FULCRUM_AUDIT_SEAL_KEY) out.
 *
 * Made at the first start (lib/db.ts calls `ensureAuditKeyAtStart` when it opens the database) — but only while the
 * trail has no keyed row: a keyed trail whose key file is gone was not started yesterday, and a fresh key would hide
 * that, so then nothing is made and writing refuses (AUDIT_KEY_MISSING) until the file is restored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { log } from './log.ts';

export const MAC_PREFIX = 'hmac-sha256:';

export const auditKeyFile = (dataDir: string) => path.join(dataDir, 'audit.key');

/** Reads the key, making it owner-only again if someone widened its mode; refuses a file that is not a key. */
export function readAuditKey(file: string): Buffer {
  if (fs.statSync(file).mode & 0o077) {
    fs.chmodSync(file, 0o600);
    log('warn', 'the audit key was readable by others; it is owner-only again', { file });
  }
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length < 32) throw new Error(`the audit key ${file} is not 32 bytes of base64; restore it`);
  return key;
}

/** Creates the key file unless it exists; another process creating it at the same moment is fine. */
export function createAuditKey(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    log('info', 'created the audit key; keep a copy apart from the appliance, never in a backup of the data directory', { file });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** At start, with the database migrated: makes the key if the file is missing and no row was keyed yet. */
export function ensureAuditKeyAtStart(dataDir: string, databaseFile: string): void {
  const file = auditKeyFile(dataDir);
  if (fs.existsSync(file)) return;
  const d = new Database(databaseFile, { readonly: true });
  try {
    const isKeyed = !!d.prepare('SELECT 1 FROM AuditEvent WHERE hash LIKE ? LIMIT 1').get(`${MAC_PREFIX}%`);
    if (isKeyed) log('error', 'the audit key is missing although the audit trail is keyed: restore it; until then no change can be made', { file });
    else createAuditKey(file);
  } finally {
    d.close();
  }
}
