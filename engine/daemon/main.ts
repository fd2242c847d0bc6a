/**
 * The engine daemon. Runs as root (or with CAP_NET_ADMIN) beside the console, and outlives it: the console may
 * restart without touching traffic.
 *
 *   FULCRUM_DATA_DIR        data directory (default ./data)
 *   FULCRUM_ENGINE_SOCKET   socket path (default <data dir>/engine.sock)
 *   FULCRUM_HEALTH_ALLOWED_NETWORKS  comma-separated CIDRs health checks may probe (default: any)
 *   FULCRUM_ENGINE_LOG_STDOUT  0: the log goes to <data dir>/logs/engine.log only (the console sets it), else stdout too
 *   FULCRUM_HEALTH_NICE     niceness of the health checks' own child process (default 10; engine/health/runner-child.ts)
 */
import fs from 'node:fs';
import path from 'node:path';
import { allowedNetworksFromEnv, Engine, type EngineLog } from './engine.ts';
import { createEngineServer, listenOnSocket } from './server.ts';
import { loadDataPlanes } from './data-planes.ts';
import { createEngineLog } from '../log/engine-log.ts';

const dataDir = path.resolve(process.env.FULCRUM_DATA_DIR ?? 'data');
const socketPath = process.env.FULCRUM_ENGINE_SOCKET ?? path.join(dataDir, 'engine.sock');
fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
/** The access logs (each layer 7 worker's) and this log (engine/log/engine-log.ts), rotated at 10 MB, 5 kept. */
const logsDir = path.join(dataDir, 'logs');
const engineLog = await createEngineLog({
  file: path.join(logsDir, 'engine.log'),
  size: '10m',
  keep: 5,
  isStdout: process.env.FULCRUM_ENGINE_LOG_STDOUT !== '0',
});
const log: EngineLog = engineLog.log;

const engine = new Engine(dataDir, loadDataPlanes(dataDir, log), log);
await engine.start();
const server = createEngineServer(engine, log, logsDir);
await listenOnSocket(server, socketPath);
const caps = (await engine.status()).capabilities;
log('info', 'engine listening', {
  socket: socketPath,
  pid: process.pid,
  healthChecksMayProbe: allowedNetworksFromEnv() ?? 'any address',
  capabilities: caps.map((c) => `${c.dataPlane}:${c.isAvailable ? 'available' : `unavailable (${c.reason})`}`),
});

let isStopping = false;
async function stop(signal: string) {
  if (isStopping) return;
  isStopping = true;
  log('info', 'engine stopping; the kernel table stays as it is', { signal });
  server.close();
  server.closeAllConnections();
  await engine.close();
  await engineLog.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
// Started attached (tests): stdin is a pipe from the parent, closed by the kernel however the parent dies.
if (process.env.FULCRUM_ENGINE_EXIT_WITH_PARENT === '1') {
  process.stdin.resume();
  process.stdin.on('close', () => void stop('parent gone'));
}
process.on('SIGINT', () => void stop('SIGINT'));
