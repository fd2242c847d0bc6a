/**
 * Scheduled backups to a directory, with retention. Off unless FULCRUM_BACKUP_DIR is set:
 *
 *   FULCRUM_BACKUP_DIR              where the files go (made 0700 if missing); best on another disk or a mount
 *   FULCRUM_BACKUP_HOURS            hours between backups; default 24 (the first one a minute after start)
 *   FULCRUM_BACKUP_KEEP             how many files to keep (the oldest go); default 14
 *   FULCRUM_BACKUP_PASSPHRASE_FILE  a file holding the passphrase that encrypts the private keys; unset: keys left out
 *
 * Each file is fulcrum-backup-<time>.json (0600), written under a temporary name and renamed, so a half-written file
 * never counts as a backup; each run writes an audit row (actor "fulcrum"), a failure one too, with the reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeAuditAlone } from '../audit.ts';
import { log } from '../log.ts';
import { exportCurrent } from './restore.ts';

export interface ScheduleOptions {
  dir: string;
  keep: number;
  everyMs: number;
  passphrase?: string;
}

const PATTERN = /^fulcrum-backup-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.json$/;

export function scheduleFromEnv(env: Record<string, string | undefined> = process.env): ScheduleOptions | undefined {
  if (!env.FULCRUM_BACKUP_DIR) return undefined;
  const hours = Number(env.FULCRUM_BACKUP_HOURS ?? 24);
  const keep = Number(env.FULCRUM_BACKUP_KEEP ?? 14);
  if (!(hours > 0)) throw new Error(`FULCRUM_BACKUP_HOURS: "${env.FULCRUM_BACKUP_HOURS}" is not a positive number of hours`);
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`FULCRUM_BACKUP_KEEP: "${env.FULCRUM_BACKUP_KEEP}" is not a whole number of files, 1 or more`);
  const passphrase = env.FULCRUM_BACKUP_PASSPHRASE_FILE ? fs.readFileSync(env.FULCRUM_BACKUP_PASSPHRASE_FILE, 'utf8').trim() : undefined;
  if (passphrase !== undefined && passphrase.length < 12) throw new Error('FULCRUM_BACKUP_PASSPHRASE_FILE: the passphrase must be at least 12 characters');
  return { dir: path.resolve(env.FULCRUM_BACKUP_DIR), keep, everyMs: hours * 3_600_000, passphrase };
}

/** One backup now: written, then the oldest beyond `keep` removed. Returns the file written and the files removed. */
export async function backupOnce(opts: ScheduleOptions): Promise<{ file: string; removed: string[] }> {
  fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  try {
    const { file, hash } = await exportCurrent('fulcrum (scheduled)', opts.passphrase);
    const name = `fulcrum-backup-${file.createdAt.replace(/[:.]/g, '-')}.json`;
    const tmp = path.join(opts.dir, `.${name}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(file, null, 2), { mode: 0o600 });
    fs.renameSync(tmp, path.join(opts.dir, name));
    const all = fs
      .readdirSync(opts.dir)
      .filter((f) => PATTERN.test(f))
      .sort();
    const removed = all.slice(0, Math.max(0, all.length - opts.keep));
    for (const f of removed) fs.rmSync(path.join(opts.dir, f), { force: true });
    await writeAuditAlone({
      actor: 'fulcrum',
      actorRole: null,
      sourceAddress: 'local',
      requestId: `backup-${file.createdAt}`,
      action: 'backup.scheduled',
      objectType: 'config',
      outcome: 'success',
      after: { file: path.join(opts.dir, name), hash, contentHash: file.contentHash, secrets: file.secrets.mode, removed },
    });
    return { file: path.join(opts.dir, name), removed };
  } catch (e) {
    const message = `The scheduled backup to ${opts.dir} failed: ${(e as Error).message}`;
    log('error', message);
    await writeAuditAlone({
      actor: 'fulcrum',
      actorRole: null,
      sourceAddress: 'local',
      requestId: `backup-${Date.now()}`,
      action: 'backup.scheduled',
      objectType: 'config',
      outcome: 'failed',
      message,
    }).catch(() => undefined);
    throw e;
  }
}

/** Starts the schedule when configured; returns a stop function (a no-op when off). */
export function startScheduledBackups(opts = scheduleFromEnv()): () => void {
  if (!opts) return () => undefined;
  const run = () => void backupOnce(opts).catch(() => undefined);
  const first = setTimeout(run, 60_000);
  const every = setInterval(run, opts.everyMs);
  first.unref();
  every.unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}

/** What the Backup page shows of the schedule: whether it is on, its settings, the files kept (newest first). */
export function scheduledBackups(opts = scheduleFromEnvSafe()) {
  if ('error' in opts) return { isEnabled: false as const, error: opts.error, files: [] };
  if (!opts.schedule) return { isEnabled: false as const, files: [] };
  const s = opts.schedule;
  let names: string[] = [];
  try {
    names = fs
      .readdirSync(s.dir)
      .filter((f) => PATTERN.test(f))
      .sort()
      .reverse();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const files = names.map((name) => {
    const st = fs.statSync(path.join(s.dir, name));
    return { name, bytes: st.size, writtenAt: st.mtime.toISOString() };
  });
  return { isEnabled: true as const, dir: s.dir, everyHours: s.everyMs / 3_600_000, keep: s.keep, isEncrypted: s.passphrase !== undefined, files };
}

/** One scheduled backup file by name (only names the schedule writes; nothing outside its directory). */
export function readScheduledBackup(name: string, opts = scheduleFromEnvSafe()): unknown | undefined {
  if ('error' in opts || !opts.schedule || !PATTERN.test(name)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(path.join(opts.schedule.dir, name), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function scheduleFromEnvSafe(): { schedule?: ScheduleOptions } | { error: string } {
  try {
    return { schedule: scheduleFromEnv() };
  } catch (e) {
    return { error: (e as Error).message };
  }
}
