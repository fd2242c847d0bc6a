/**
 * The console's settings, read from the environment (cheap; read afresh so tests can point at their own data dir).
 *
 *   FULCRUM_DATA_DIR      data directory (database, TLS material, setup token, engine socket); default ./data
 *   FULCRUM_PORT          console port; default 9443
 *   FULCRUM_HOST          listen address; default 0.0.0.0
 *   FULCRUM_INSECURE_HTTP 1 = serve plain HTTP (local development only; cookies then lose the Secure flag)
 *   FULCRUM_ENGINE_SOCKET use an engine already running on this socket instead of spawning one
 *   FULCRUM_HEALTH_HISTORY_DAYS  health transitions older than this many days are dropped; default 30
 *   FULCRUM_HEALTH_HISTORY_ROWS  at most this many health transitions are kept (the oldest go); default 200000
 *   FULCRUM_AUDIT_SEAL    where signed checkpoints of the audit chain's head go, comma-separated: "file:/abs/path"
 *                         (outside the data directory) and/or "syslog" (the local `logger` command, facility auth);
 *                         unset = no checkpoints (verification then says so). See lib/audit.ts.
 *   FULCRUM_AUDIT_SEAL_KEY  the Ed25519 private key that signs checkpoints (created if missing), outside the data
 *                         directory; default ~/.config/fulcrum/audit-seal.key
 *   FULCRUM_AUDIT_SEAL_SECONDS  at most one checkpoint per this many seconds while the trail grows (0 = after every
 *                         write); default 60
 */
import os from 'node:os';
import path from 'node:path';

export interface ConsoleEnv {
  dataDir: string;
  port: number;
  host: string;
  isInsecureHttp: boolean;
  engineSocket: string;
  shouldSpawnEngine: boolean;
  healthHistoryMaxAgeDays: number;
  healthHistoryMaxRows: number;
  auditSeal: AuditSealSettings;
}

export type AuditSealSink = { kind: 'file'; path: string } | { kind: 'syslog' };

export interface AuditSealSettings {
  sinks: readonly AuditSealSink[];
  keyFile: string;
  intervalSeconds: number;
}

const isInside = (child: string, dir: string) => {
  const rel = path.relative(dir, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/** Accepts "file:/abs/path" and "syslog"; refuses relative paths and anything inside the data directory. */
function auditSeal(dataDir: string): AuditSealSettings {
  const sinks: AuditSealSink[] = [];
  for (const raw of (process.env.FULCRUM_AUDIT_SEAL ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (raw === 'syslog') sinks.push({ kind: 'syslog' });
    else if (raw.startsWith('file:')) {
      const p = raw.slice('file:'.length);
      if (!path.isAbsolute(p)) throw new Error(`FULCRUM_AUDIT_SEAL: "${raw}" needs an absolute path, such as file:/var/log/fulcrum/audit-seal.log`);
      if (isInside(path.resolve(p), dataDir))
        throw new Error(
          `FULCRUM_AUDIT_SEAL: "${p}" is inside the data directory; checkpoints must live elsewhere, where whoever can rewrite the data directory cannot`,
        );
      sinks.push({ kind: 'file', path: path.resolve(p) });
    } else throw new Error(`FULCRUM_AUDIT_SEAL: "${raw}" is neither "syslog" nor "file:/abs/path"`);
  }
  const keyFile = path.resolve(process.env.FULCRUM_AUDIT_SEAL_KEY || path.join(os.homedir(), '.config', 'fulcrum', 'audit-seal.key'));
  if (sinks.length && isInside(keyFile, dataDir))
    throw new Error(`FULCRUM_AUDIT_SEAL_KEY: "${keyFile}" is inside the data directory; keep the seal key apart from it`);
  const rawSeconds = process.env.FULCRUM_AUDIT_SEAL_SECONDS;
  const intervalSeconds = rawSeconds === undefined || rawSeconds === '' ? 60 : Number(rawSeconds);
  if (!Number.isInteger(intervalSeconds) || intervalSeconds < 0)
    throw new Error(`FULCRUM_AUDIT_SEAL_SECONDS must be a whole number of seconds (0 or more), not "${rawSeconds}"`);
  return Object.freeze({ sinks: Object.freeze(sinks), keyFile, intervalSeconds });
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, not "${raw}"`);
  return n;
}

export function consoleEnv(): ConsoleEnv {
  const dataDir = path.resolve(/*turbopackIgnore: true*/ process.env.FULCRUM_DATA_DIR ?? 'data');
  const port = Number(process.env.FULCRUM_PORT ?? 9443);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`FULCRUM_PORT must be a port number, not "${process.env.FULCRUM_PORT}"`);
  return Object.freeze({
    dataDir,
    port,
    host: process.env.FULCRUM_HOST ?? '0.0.0.0',
    isInsecureHttp: process.env.FULCRUM_INSECURE_HTTP === '1',
    engineSocket: process.env.FULCRUM_ENGINE_SOCKET ?? path.join(dataDir, 'engine.sock'),
    shouldSpawnEngine: !process.env.FULCRUM_ENGINE_SOCKET,
    healthHistoryMaxAgeDays: positiveInt('FULCRUM_HEALTH_HISTORY_DAYS', 30),
    healthHistoryMaxRows: positiveInt('FULCRUM_HEALTH_HISTORY_ROWS', 200_000),
    auditSeal: auditSeal(dataDir),
  });
}
