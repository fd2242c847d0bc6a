/**
 * The console: Next (pages and /api/v1) behind one HTTPS server, the WebSocket feed at /api/v1/live, and the engine
 * daemon started beside it unless FULCRUM_ENGINE_SOCKET names one already running. See lib/env.ts for settings.
 *
 * The engine runs in its own process group so that stopping the console (Ctrl-C included) does not stop traffic;
 * the next console start finds it on its socket and uses it. FULCRUM_STOP_ENGINE_ON_EXIT=1 (tests) stops it too.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import next from 'next';
import { consoleEnv } from './lib/env.ts';
import { db } from './lib/db.ts';
import { ensureConsoleCertificate } from './lib/tls.ts';
import { ensureSetupToken } from './lib/setup-token.ts';
import { createLiveFeed, LIVE_PATH } from './lib/live.ts';
import { PEER_HEADER } from './lib/api/route.ts';
import { engine } from './lib/engine.ts';
import { log } from './lib/log.ts';

process.env.NEXT_TELEMETRY_DISABLED = '1';
const env = consoleEnv();
const isDev = process.env.FULCRUM_DEV === '1';
fs.mkdirSync(env.dataDir, { recursive: true, mode: 0o700 });
fs.chmodSync(env.dataDir, 0o700);

// Database first: migrations apply here, before anything can ask for data.
const users = await db().user.count();
if (users === 0) {
  const tokenPath = ensureSetupToken();
  log('info', `first start: open the console and enter the setup token from ${tokenPath} to create the first admin`, { setupTokenFile: tokenPath });
}

// The engine.
let engineChild: ChildProcess | undefined;
let isStopping = false;
async function engineIsUp(): Promise<boolean> {
  try {
    await engine().capabilities();
    return true;
  } catch {
    return false;
  }
}
function startEngine(): void {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(process.cwd(), 'engine', 'daemon', 'main.ts')], {
    env: { ...process.env, FULCRUM_DATA_DIR: env.dataDir, FULCRUM_ENGINE_SOCKET: env.engineSocket },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  engineChild = child;
  child.on('exit', (code, signal) => {
    if (isStopping) return;
    log('warn', 'engine exited; starting it again in 1 s', { code, signal });
    setTimeout(() => void engineIsUp().then((up) => up || startEngine()), 1000);
  });
}
if (env.shouldSpawnEngine) {
  if (await engineIsUp()) log('info', 'using the engine already running', { socket: env.engineSocket });
  else startEngine();
}

const app = next({ dev: isDev, dir: process.cwd(), hostname: env.host, port: env.port });
await app.prepare();
const handle = app.getRequestHandler();

const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
  req.headers[PEER_HEADER] = req.socket.remoteAddress ?? 'unknown';
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Content-Security-Policy', "frame-ancestors 'none'; base-uri 'self'; form-action 'self'");
  if (!env.isInsecureHttp) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
  void handle(req, res);
};

let server: http.Server | https.Server;
if (env.isInsecureHttp) {
  server = http.createServer(onRequest);
} else {
  const tls = ensureConsoleCertificate(env.dataDir);
  if (tls.isNew) log('info', 'created a self-signed certificate for the console', { certificate: tls.certPath });
  server = https.createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, onRequest);
}

const live = createLiveFeed();
server.on('upgrade', (req, socket, head) => {
  // Only our path; every other upgrade (Next's dev HMR) is Next's own listener's business.
  if ((req.url ?? '').split('?')[0] === LIVE_PATH) void live.handleUpgrade(req, socket, head);
});

server.listen(env.port, env.host, () => {
  const scheme = env.isInsecureHttp ? 'http' : 'https';
  log('info', `console listening on ${scheme}://localhost:${env.port}`, { dataDir: env.dataDir, engineSocket: env.engineSocket, mode: isDev ? 'development' : 'production' });
});

function shutdown(signal: string) {
  if (isStopping) return;
  isStopping = true;
  log('info', 'console stopping', { signal });
  live.close();
  server.close();
  server.closeAllConnections?.();
  if (engineChild && process.env.FULCRUM_STOP_ENGINE_ON_EXIT === '1') engineChild.kill('SIGTERM');
  else engineChild?.unref();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
