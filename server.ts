/**
 * The console: Next (pages and /api/v1) behind one HTTPS server, the WebSocket feed at /api/v1/live, and the engine
 * daemon started beside it unless FULCRUM_ENGINE_SOCKET names one already running. See lib/env.ts for settings.
 *
 * The engine runs in its own process group so that stopping the console (Ctrl-C included) does not stop traffic;
 * the next console start finds it on its socket and uses it. FULCRUM_STOP_ENGINE_ON_EXIT=1 (tests) stops it too.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import next from 'next';
import { consoleEnv } from './lib/env.ts';
import { db } from './lib/db.ts';
import { sealStoredSecrets } from './lib/secrets.ts';
import { ensureConsoleCertificate } from './lib/tls.ts';
import { ensureSetupToken } from './lib/setup-token.ts';
import { createLiveFeed, LIVE_PATH } from './lib/live.ts';
import { createHealthHistory } from './lib/health-history.ts';
import { createSampler } from './lib/samples/sampler.ts';
import { settler } from './lib/config/settle.ts';
import { startScheduledBackups } from './lib/backup/schedule.ts';
import { startSyslog } from './lib/syslog/index.ts';
import { startAlerts } from './lib/alerts/index.ts';
import { PEER_HEADER } from './lib/api/route.ts';
import { engine } from './lib/engine.ts';
import { createEngineSupervisor, setSupervisor } from './lib/engine-supervisor.ts';
import { log, openConsoleLogFile } from './lib/log.ts';
import { startHa } from './lib/ha/index.ts';
import { configuredPeerPort } from './lib/ha/identity.ts';

process.env.NEXT_TELEMETRY_DISABLED = '1';
const env = consoleEnv();
const isDev = process.env.FULCRUM_DEV === '1';
fs.mkdirSync(env.dataDir, { recursive: true, mode: 0o700 });
fs.chmodSync(env.dataDir, 0o700);
// The console's log to <data dir>/logs/console.log as well as the terminal, rotated like the engine's (lib/log.ts).
await openConsoleLogFile({ file: path.join(env.dataDir, 'logs', 'console.log'), size: '10m', keep: 5 });

// Database first: migrations apply here, before anything can ask for data.
const users = await db().user.count();
if (users === 0) {
  const tokenPath = ensureSetupToken();
  log('info', `first start: open the console and enter the setup token from ${tokenPath} to create the first admin`, { file: tokenPath });
}

// Private keys stored before sealing existed are sealed now (lib/secrets.ts).
await sealStoredSecrets();

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
  // The engine writes its log itself, rotated (<data dir>/logs/engine.log, engine/log/engine-log.ts); what else it
  // prints (a crash's stack, Node's warnings) goes to engine-output.log: it outlives this console, so it must not
  // hold this console's output.
  const logFd = fs.openSync(path.join(env.dataDir, 'engine-output.log'), 'a', 0o600);
  const isAttached = process.env.FULCRUM_STOP_ENGINE_ON_EXIT === '1';
  // The engine runs compiled (scripts/ensure-build.mjs built it); in development its sources run under tsx.
  const entry = isDev
    ? ['--import', 'tsx', path.join(process.cwd(), 'engine', 'daemon', 'main.ts')]
    : [path.join(process.cwd(), 'build', 'engine', 'daemon', 'main.js')];
  const child = spawn(process.execPath, entry, {
    env: {
      ...process.env,
      FULCRUM_DATA_DIR: env.dataDir,
      FULCRUM_ENGINE_SOCKET: env.engineSocket,
      FULCRUM_ENGINE_EXIT_WITH_PARENT: isAttached ? '1' : '0',
      FULCRUM_ENGINE_LOG_STDOUT: '0',
    },
    // Attached (tests): the engine exits when this pipe closes, however this console dies.
    stdio: [isAttached ? 'pipe' : 'ignore', logFd, logFd],
    detached: !isAttached,
  });
  fs.closeSync(logFd);
  engineChild = child;
  supervisor.noteStarted();
  log('info', 'engine started', { pid: child.pid, log: path.join(env.dataDir, 'logs', 'engine.log') });
  // The supervisor decides about restarts (for this child and for an adopted engine alike); an exit only hurries it.
  child.on('exit', (code, signal) => {
    if (isStopping) return;
    log('warn', 'engine exited', { code, signal });
    void supervisor.check();
  });
  if (!isAttached) child.unref();
}
const supervisor = createEngineSupervisor({
  probe: async () => (await engine().status()).pid,
  start: env.shouldSpawnEngine ? startEngine : undefined,
  log,
});
setSupervisor(supervisor);
if (env.shouldSpawnEngine) {
  if (await engineIsUp()) log('info', 'using the engine already running', { socket: env.engineSocket });
  else startEngine();
}
supervisor.start();

// Next would attach its own 'upgrade' listener to the server on the first request and close every upgrade whose path
// matches a route — /api/v1/live matches the API's catch-all. Handing it a detached emitter keeps it off our server;
// the one upgrade Next needs (development HMR under /_next/) is passed to it explicitly below.
const nextUpgradeSink = new EventEmitter() as unknown as http.Server;
const app = next({ dev: isDev, dir: process.cwd(), hostname: env.host, port: env.port, httpServer: nextUpgradeSink });
await app.prepare();
const handle = app.getRequestHandler();
const nextUpgrade = app.getUpgradeHandler();

/**
 * Content-Security-Policy: scripts only from this origin or carrying this response's nonce. Next reads the nonce
 * from the request's CSP header and puts it on its own inline scripts (the pages are rendered per request, so each
 * response has its own). 'strict-dynamic' lets those scripts load Next's chunks. Styles allow inline: React sets
 * style attributes, and a style cannot run code. Development adds 'unsafe-eval' for Next's hot reload.
 */
function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${isDev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
  req.headers[PEER_HEADER] = req.socket.remoteAddress ?? 'unknown';
  // Prometheus's default metrics_path: the API's own route (lib/api/routes/metrics.ts), with its authentication.
  if (req.url === '/metrics' || req.url?.startsWith('/metrics?')) req.url = `/api/v1${req.url}`;
  const csp = contentSecurityPolicy(crypto.randomBytes(16).toString('base64'));
  req.headers['content-security-policy'] = csp;
  res.setHeader('Content-Security-Policy', csp);
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), usb=(), serial=(), payment=(), clipboard-read=()');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'same-origin');
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
// An idle keep-alive connection is closed after 65 s, not Node's 5 s (nginx keeps 75 s). With 5 s, a client that
// reuses its connection after a pause (a browser after a few seconds' reading, a script, Playwright's request
// context, which ignores the Keep-Alive: timeout hint) races the server's close and gets ECONNRESET on a request
// the console never saw; every click after a pause also paid a new TLS handshake. Headers must still arrive within
// headersTimeout, which Node requires to exceed the keep-alive time.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

// Health transitions are recorded from the live feed's one engine subscription (and caught up on each reconnect).
const healthHistory = createHealthHistory();
healthHistory.start();
// Versions left applying and states the engine did not take are settled now and whenever the engine reconnects.
settler().start();
// Backups to FULCRUM_BACKUP_DIR on a schedule, with retention (off unless set; lib/backup/schedule.ts).
startScheduledBackups();
startSyslog(env.dataDir);
startAlerts(env.dataDir);
// The graphs' samples come from the same subscription's 'stats' events (lib/samples/).
const sampler = createSampler();
sampler.start();
const live = createLiveFeed({
  onEngineEvent: (e) => {
    healthHistory.handleEngineEvent(e);
    sampler.handleEngineEvent(e);
  },
  onEngineConnection: (isConnected) => {
    healthHistory.handleConnection(isConnected);
    sampler.handleConnection(isConnected);
    if (isConnected) settler().kick();
  },
});
// The HA pair's peer link (mutual TLS to the other console), config sync and failover history (lib/ha/).
const ha = await startHa({ host: env.host, port: configuredPeerPort() }).catch((e: NodeJS.ErrnoException) => {
  log(
    'error',
    `the HA peer link cannot listen on port ${configuredPeerPort()} (${e.code ?? e.message}); pairing and config sync are off until it can: free the port or set FULCRUM_PEER_PORT`,
  );
  return undefined;
});
server.on('upgrade', (req, socket, head) => {
  const p = (req.url ?? '').split('?')[0];
  if (p === LIVE_PATH) void live.handleUpgrade(req, socket, head);
  else if (p.startsWith('/_next/')) void nextUpgrade(req, socket, head);
  else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
});

server.on('error', (e: NodeJS.ErrnoException) => {
  log(
    'error',
    e.code === 'EADDRINUSE' ? `port ${env.port} is already in use; stop what uses it or set FULCRUM_PORT` : `the console cannot listen: ${e.message}`,
  );
  process.exit(1);
});
server.listen(env.port, env.host, () => {
  const scheme = env.isInsecureHttp ? 'http' : 'https';
  log('info', `console listening on ${scheme}://localhost:${env.port}`, {
    dataDir: env.dataDir,
    engineSocket: env.engineSocket,
    mode: isDev ? 'development' : 'production',
  });
});

function shutdown(signal: string) {
  if (isStopping) return;
  isStopping = true;
  log('info', 'console stopping', { signal });
  live.close();
  supervisor.close();
  healthHistory.close();
  void sampler.close();
  settler().close();
  ha?.close();
  server.close();
  server.closeAllConnections?.();
  if (engineChild && process.env.FULCRUM_STOP_ENGINE_ON_EXIT === '1') engineChild.kill('SIGTERM');
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
