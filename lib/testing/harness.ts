/**
 * Test harness for API tests: a fresh data directory with a real SQLite file, the real engine daemon on a Unix
 * socket, and the API router served over real HTTP on an ephemeral port (the same router Next serves).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface Harness {
  dataDir: string;
  baseUrl: string;
  engineProcess?: ChildProcess;
  /** Stops the engine daemon (SIGTERM, as an operator's restart would) and starts a new one on the same data dir. */
  restartEngine(): Promise<void>;
  close(): Promise<void>;
}

export async function spawnEngine(dataDir: string): Promise<ChildProcess> {
  // FULCRUM_TEST_ENGINE_NODE_ARGS: more node flags for the engine (bench/apply.ts profiles it with --cpu-prof, which
  // NODE_OPTIONS may not carry).
  const extra = process.env.FULCRUM_TEST_ENGINE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', path.resolve('engine/daemon/main.ts')], {
    // Health checks of a test engine probe loopback only, however the test was started (the API tests name 192.168.x).
    env: {
      FULCRUM_HEALTH_ALLOWED_NETWORKS: '127.0.0.0/8,::1/128',
      ...process.env,
      FULCRUM_DATA_DIR: dataDir,
      FULCRUM_ENGINE_SOCKET: path.join(dataDir, 'engine.sock'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The daemon logs "engine listening" once its socket accepts connections.
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c) => {
      out += c;
      if (out.includes('engine listening')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`engine exited (${code}) before listening: ${out}`)));
  });
  child.stdout!.resume();
  return child;
}

async function stopEngine(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** The API router over real HTTP on an ephemeral loopback port (what Next serves, without Next). */
export async function serveApi(): Promise<{ server: http.Server; port: number }> {
  const { handleApi } = await import('../api/router.ts');
  const { PEER_HEADER } = await import('../api/route.ts');
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    headers.set(PEER_HEADER, req.socket.remoteAddress ?? 'unknown');
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const response = await handleApi(
      new Request(`http://localhost${req.url}`, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body }),
    );
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

/** `parentDir`: where the data directory is made (a small tmpfs for the disk-full test); default the system temp. */
export async function startHarness(opts: { withEngine?: boolean; parentDir?: string } = {}): Promise<Harness> {
  const dataDir = fs.mkdtempSync(path.join(opts.parentDir ?? os.tmpdir(), 'fulcrum-test-'));
  process.env.FULCRUM_DATA_DIR = dataDir;
  process.env.FULCRUM_INSECURE_HTTP = '1';
  process.env.FULCRUM_ENGINE_SOCKET = path.join(dataDir, 'engine.sock');
  let engineProcess: ChildProcess | undefined = opts.withEngine !== false ? await spawnEngine(dataDir) : undefined;
  const { server, port } = await serveApi();
  return {
    dataDir,
    baseUrl: `http://127.0.0.1:${port}`,
    get engineProcess() {
      return engineProcess;
    },
    async restartEngine() {
      await stopEngine(engineProcess);
      engineProcess = await spawnEngine(dataDir);
    },
    async close() {
      server.close();
      server.closeAllConnections();
      await stopEngine(engineProcess);
      const { closeDb } = await import('../db.ts');
      await closeDb();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A small client that keeps the session cookie and CSRF token like a browser would. */
export class Client {
  cookie = '';
  csrf = '';
  bearer = '';
  constructor(readonly baseUrl: string) {}

  async req(
    method: string,
    p: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: any; headers: Headers; text: string }> {
    const h: Record<string, string> = { ...headers };
    if (this.cookie) h.cookie = this.cookie;
    if (this.csrf && method !== 'GET') h['x-csrf-token'] = this.csrf;
    if (this.bearer) h.authorization = `Bearer ${this.bearer}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const r = await fetch(this.baseUrl + '/api/v1' + p, { method, headers: h, body: payload });
    const setCookie = r.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0];
    const text = await r.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: r.status, body: parsed, headers: r.headers, text };
  }

  async login(username: string, password: string) {
    const r = await this.req('POST', '/session', { username, password });
    if (r.status === 200) this.csrf = r.body.csrfToken;
    return r;
  }
}

export const ADMIN = { username: 'admin', password: 'correct horse battery staple' };

/** Setup with the token from the data directory, then log in. */
export async function setupAdmin(h: Harness): Promise<Client> {
  const c = new Client(h.baseUrl);
  await c.req('GET', '/setup');
  const token = fs.readFileSync(path.join(h.dataDir, 'setup-token'), 'utf8').trim();
  const r = await c.req('POST', '/setup', { token, ...ADMIN });
  if (r.status !== 201) throw new Error(`setup failed: ${r.status} ${r.text}`);
  const l = await c.login(ADMIN.username, ADMIN.password);
  if (l.status !== 200) throw new Error(`login failed: ${l.status} ${l.text}`);
  return c;
}
