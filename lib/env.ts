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
 */
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
  });
}
