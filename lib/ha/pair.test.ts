/**
 * Two real consoles in one test: two data directories, two SQLite files, two real engines on their own sockets, each
 * console its own process serving the API and the peer link (real HTTPS, mutual TLS, loopback ports). Nothing is
 * faked. Pairing (wrong, expired, reused codes), sync of an apply as the same hash with certificates and users,
 * the secondary refusing edits, catch-up after the secondary was down, an unpinned certificate refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { ADMIN, Client, spawnEngine } from '../testing/harness.ts';
import { selfSignedPem } from '../testing/self-signed.ts';

interface Node {
  name: string;
  dataDir: string;
  peerPort: number;
  engine: ChildProcess;
  console?: ChildProcess;
  api: Client;
  apiUrl: string;
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  return port;
}

async function startConsole(n: Node): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('lib/ha/testing/console.ts')], {
    env: {
      ...process.env,
      FULCRUM_DATA_DIR: n.dataDir,
      FULCRUM_ENGINE_SOCKET: path.join(n.dataDir, 'engine.sock'),
      FULCRUM_INSECURE_HTTP: '1',
      FULCRUM_HA_NODE: n.name,
      FULCRUM_PEER_PORT: String(n.peerPort),
      FULCRUM_HA_HEARTBEAT_MS: '300',
      FULCRUM_HA_RETRY_MS: '100',
      FULCRUM_PUBLIC_URL: '',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /listening (\d+) (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`console ${n.name} exited (${code}): ${out}`)));
  });
  child.stdout!.resume();
  n.console = child;
  n.apiUrl = `http://127.0.0.1:${port}`;
  const cookie = n.api?.cookie;
  const csrf = n.api?.csrf;
  n.api = new Client(n.apiUrl);
  if (cookie) Object.assign(n.api, { cookie, csrf });
}

async function stopConsole(n: Node): Promise<void> {
  const c = n.console;
  if (!c || c.exitCode !== null) return;
  c.kill('SIGTERM');
  await once(c, 'exit');
}

async function makeNode(name: string): Promise<Node> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `fulcrum-ha-${name}-`));
  const n = { name, dataDir, peerPort: await freePort(), engine: await spawnEngine(dataDir) } as Node;
  await startConsole(n);
  await n.api.req('GET', '/setup');
  const token = fs.readFileSync(path.join(dataDir, 'setup-token'), 'utf8').trim();
  assert.equal((await n.api.req('POST', '/setup', { token, ...ADMIN })).status, 201);
  assert.equal((await n.api.login(ADMIN.username, ADMIN.password)).status, 200);
  return n;
}

/** Polls `fn` until it returns a truthy value (what the sync loop does is asynchronous by design). */
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

const service = (name: string, port = 80) => ({
  name,
  layer: 4,
  mode: 'dr',
  protocol: 'tcp',
  address: '192.168.10.50',
  ports: [port],
  scheduler: 'wlc',
  healthCheck: { type: 'none' },
  realServers: [{ name: 'sym-app-1', address: '192.168.10.61', weight: 100 }],
});

const running = async (n: Node) => (await n.api.req('GET', '/status')).body.runningVersion as { hash: string; id: number } | null;
const auditActions = async (n: Node) => (await n.api.req('GET', '/audit?limit=200')).body.items as { action: string; outcome: string; message: string }[];
const peerUrl = (n: Node) => `https://127.0.0.1:${n.peerPort}`;

let a: Node;
let b: Node;

before(async () => {
  [a, b] = await Promise.all([makeNode('fulcrum-a'), makeNode('fulcrum-b')]);
});

after(async () => {
  for (const n of [a, b]) {
    if (!n) continue;
    await stopConsole(n);
    n.engine.kill('SIGTERM');
    await once(n.engine, 'exit').catch(() => undefined);
    fs.rmSync(n.dataDir, { recursive: true, force: true });
  }
});

describe('pairing', () => {
  it('refuses a code the primary never showed, naming the code', async () => {
    const r = await b.api.req('POST', '/ha/pair', { url: peerUrl(a), code: '7K2M-Q9PX-4D1R' });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.code, 'HA_PAIRING_CODE_INVALID');
    const bad = await b.api.req('POST', '/ha/pair', { url: peerUrl(a), code: 'not a code' });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error.details.fields[0].path, 'code');
    assert.equal((await a.api.req('GET', '/ha')).body.pair, null, 'the primary paired nothing');
  });

  it('refuses an expired code', async () => {
    const code = (await a.api.req('POST', '/ha/pairing-code')).body.code as string;
    // Expire it in the primary's own SQLite file (no waiting on a clock).
    const sqlite = new Database(path.join(a.dataDir, 'fulcrum.db'));
    sqlite.prepare('UPDATE "HaPairingCode" SET "expiresAt" = "createdAt"').run();
    sqlite.close();
    const r = await b.api.req('POST', '/ha/pair', { url: peerUrl(a), code });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.code, 'HA_PAIRING_CODE_EXPIRED');
  });

  it('pairs with a fresh code, pins both certificates, audits on both nodes, and refuses the code again', async () => {
    const made = await a.api.req('POST', '/ha/pairing-code');
    assert.equal(made.status, 201);
    assert.match(made.body.code, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    const r = await b.api.req('POST', '/ha/pair', { url: peerUrl(a), code: made.body.code.toLowerCase() });
    assert.equal(r.status, 201, r.text);
    const va = (await a.api.req('GET', '/ha')).body;
    const vb = (await b.api.req('GET', '/ha')).body;
    assert.equal(va.pair.role, 'primary');
    assert.equal(vb.pair.role, 'secondary');
    assert.equal(va.pair.peerName, 'fulcrum-b');
    assert.equal(vb.pair.peerName, 'fulcrum-a');
    assert.equal(va.pair.peerFingerprint, vb.local.fingerprint);
    assert.equal(vb.pair.peerFingerprint, va.local.fingerprint);
    assert.ok((await auditActions(a)).some((e) => e.action === 'ha.pair' && e.outcome === 'success'));
    assert.ok((await auditActions(b)).some((e) => e.action === 'ha.pair' && e.outcome === 'success'));
    assert.ok(
      (await auditActions(a)).some((e) => e.action === 'ha.pair' && e.outcome === 'denied' && /expired/.test(e.message)),
      'the expired attempt is audited on the primary',
    );

    // Unpair (both forget), then the used code is refused as used.
    const un = await b.api.req('POST', '/ha/unpair', { confirm: true });
    assert.equal(un.status, 200, un.text);
    assert.equal(un.body.isPeerTold, true);
    assert.equal((await a.api.req('GET', '/ha')).body.pair, null);
    const again = await b.api.req('POST', '/ha/pair', { url: peerUrl(a), code: made.body.code });
    assert.equal(again.status, 403, again.text);
    assert.equal(again.body.error.code, 'HA_PAIRING_CODE_USED');

    const fresh = (await a.api.req('POST', '/ha/pairing-code')).body.code;
    assert.equal((await b.api.req('POST', '/ha/pair', { url: peerUrl(a), code: fresh })).status, 201);
  });
});

describe('configuration sync', () => {
  it('pushes an apply on the primary to the secondary as the same hash, with certificates and users', async () => {
    const cert = selfSignedPem('symphony.example.nhs.uk');
    assert.equal((await a.api.req('POST', '/certificates', { name: 'symphony', ...cert })).status, 201);
    assert.equal((await a.api.req('POST', '/users', { username: 'nurse-lead', password: 'a long enough password 1', role: 'operator' })).status, 201);
    assert.equal((await a.api.req('POST', '/virtual-services', service('symphony-web'))).status, 201);
    const applied = await a.api.req('POST', '/apply', { comment: 'first on the pair' });
    assert.equal(applied.status, 200, applied.text);
    const hash = applied.body.hash as string;
    const onB = await until('the secondary to run the same hash', async () => ((await running(b))?.hash === hash ? running(b) : undefined));
    assert.equal(onB!.hash, hash);
    // The same certificate, its key sealed with the secondary's own key; the user can log in on the secondary.
    const certs = (await b.api.req('GET', '/certificates')).body.items;
    assert.deepEqual(
      certs.map((c: { name: string }) => c.name),
      ['symphony'],
    );
    const sqlite = new Database(path.join(b.dataDir, 'fulcrum.db'), { readonly: true });
    const row = sqlite.prepare('SELECT "privateKeyPem" FROM "Certificate"').get() as { privateKeyPem: string };
    sqlite.close();
    assert.doesNotMatch(row.privateKeyPem, /PRIVATE KEY/);
    const nurse = new Client(b.apiUrl);
    assert.equal((await nurse.login('nurse-lead', 'a long enough password 1')).status, 200);
    const vb = (await b.api.req('GET', '/ha')).body;
    assert.equal(vb.isInSync, true);
    assert.deepEqual(vb.warnings, []);
    assert.equal(vb.peer.status.role, 'primary');
    assert.ok(vb.pair.lastSyncAt);
    assert.ok((await auditActions(b)).some((e) => e.action === 'ha.sync-receive'));
    assert.ok((await auditActions(b)).some((e) => e.action === 'ha.sync-apply' && e.outcome === 'success'));
    assert.ok((await auditActions(a)).some((e) => e.action === 'ha.sync-push' && e.outcome === 'success'));
  });

  it('the secondary refuses edits and names the primary', async () => {
    const r = await b.api.req('POST', '/virtual-services', service('edit-on-b', 8080));
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error.code, 'HA_SECONDARY_READ_ONLY');
    assert.match(r.body.error.message, /secondary of the pair; make changes on fulcrum-a \(http:\/\/127\.0\.0\.1:\d+\)/);
    assert.equal((await b.api.req('POST', '/apply', {})).body.error.code, 'HA_SECONDARY_READ_ONLY');
    assert.ok(
      (await auditActions(b)).some((e) => e.action === 'virtual-service.create' && e.outcome === 'invalid' && /secondary/.test(e.message)),
      'the refusal is audited',
    );
    // Reads and logins still work there.
    assert.equal((await b.api.req('GET', '/virtual-services')).status, 200);
  });

  it('catches up after the secondary was down: the primary retries, the secondary asks for what it missed', async () => {
    await stopConsole(b);
    assert.equal((await a.api.req('POST', '/virtual-services', service('symphony-api', 8443))).status, 201);
    const applied = await a.api.req('POST', '/apply', { comment: 'while fulcrum-b is away' });
    assert.equal(applied.status, 200, applied.text);
    const warned = await until('the primary to warn that the peer is away', async () => {
      const v = (await a.api.req('GET', '/ha')).body;
      return v.warnings.some((w: string) => /fulcrum-b has not answered/.test(w)) ? v : undefined;
    });
    await until('the primary to record the sync error', async () => (await a.api.req('GET', '/ha')).body.pair.lastSyncError);
    assert.ok(warned);
    await until('the failed push to be audited on the primary', async () =>
      (await auditActions(a)).some((e) => e.action === 'ha.sync-push' && e.outcome === 'failed'),
    );
    assert.notEqual((await new Client(b.apiUrl).req('GET', '/status').catch(() => null))?.status, 200, 'the secondary is really down');
    await startConsole(b);
    await until('the secondary to catch up', async () => (await running(b))?.hash === applied.body.hash);
    await until(
      'both to say they are in sync',
      async () => (await a.api.req('GET', '/ha')).body.isInSync === true && (await b.api.req('GET', '/ha')).body.isInSync === true,
    );
    await until('the recovery to be audited on the primary', async () =>
      (await auditActions(a)).some((e) => e.action === 'ha.peer-link' && e.outcome === 'success'),
    );
  });
});

describe('operator states', () => {
  it('a drain on the primary is followed by the secondary at once, without an apply, in its rows and its engine', async () => {
    const list = (await a.api.req('GET', '/virtual-services')).body.items as { id: string; name: string }[];
    const vs = (await a.api.req('GET', `/virtual-services/${list.find((v) => v.name === 'symphony-web')!.id}`)).body;
    const r = await a.api.req('PUT', `/real-servers/${vs.realServers[0].id}/state`, { state: 'drain' });
    assert.equal(r.status, 200, r.text);
    const onB = async () => {
      const bl = (await b.api.req('GET', '/virtual-services')).body.items as { id: string; name: string }[];
      return (await b.api.req('GET', `/virtual-services/${bl.find((v) => v.name === 'symphony-web')!.id}`)).body.realServers[0].state as string;
    };
    await until('the secondary to drain sym-app-1 too', async () => (await onB()) === 'drain');
    const engineB = await until('the secondary engine to run it drained', async () => {
      const st = (await b.api.req('GET', '/status')).body.engine.status;
      const srv = st.services.find((x: { name: string }) => x.name === 'symphony-web').realServers[0];
      return srv.operator === 'drain' ? srv : undefined;
    });
    assert.equal(engineB.operator, 'drain');
    assert.ok((await auditActions(b)).some((e) => e.action === 'ha.sync-state' && /symphony-web\/sym-app-1 drain/.test(e.message)));
    assert.equal(
      (await b.api.req('GET', '/status')).body.runningVersion.hash,
      (await a.api.req('GET', '/status')).body.runningVersion.hash,
      'no new version for a state',
    );
    await until('both to say they are in sync', async () => (await a.api.req('GET', '/ha')).body.isInSync === true);
  });
});

describe('the peer link', () => {
  it('refuses a client certificate that was not pinned, and one with none', async () => {
    const stranger = selfSignedPem('stranger');
    const call = (opts: https.RequestOptions) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: a.peerPort, path: '/peer/v1/bundle', rejectUnauthorized: false, agent: false, ...opts }, (res) => {
          let t = '';
          res.on('data', (c) => (t += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(t) }));
        });
        req.on('error', reject);
        req.end();
      });
    const unpinned = await call({ cert: stranger.certificatePem, key: stranger.privateKeyPem });
    assert.equal(unpinned.status, 403);
    assert.equal(unpinned.body.error.code, 'HA_PEER_UNKNOWN');
    const none = await call({});
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'HA_PEER_CERT_REQUIRED');
    assert.ok(
      (await auditActions(a)).some((e) => e.action === 'ha.peer-link' && e.outcome === 'denied'),
      'the stranger is audited',
    );
  });

  it('sends nothing to a server whose certificate is not the pinned one', async () => {
    process.env.FULCRUM_DATA_DIR = b.dataDir;
    const { peerCall } = await import('./peer-client.ts');
    await assert.rejects(
      peerCall({ url: peerUrl(a), pin: 'AA:BB', method: 'GET', path: '/peer/v1/status' }),
      (e: { code?: string; message: string }) => e.code === 'HA_PEER_NOT_PINNED' && /not the one pinned/.test(e.message),
    );
  });
});

describe('hand-over', () => {
  it('is refused when the running configuration has no HA block, and the engine stands by when told', async () => {
    const r = await a.api.req('POST', '/ha/handover', { confirm: true, reason: 'patching fulcrum-a' });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error.code, 'HA_NOT_CONFIGURED');
    const unconfirmed = await a.api.req('POST', '/ha/handover', { reason: 'x' });
    assert.equal(unconfirmed.status, 422);
    assert.equal(unconfirmed.body.error.details.fields[0].path, 'confirm');
    // The engine's side, on the real engine: standing by fails keepalived's track script with the reason.
    process.env.FULCRUM_ENGINE_SOCKET = path.join(a.dataDir, 'engine.sock');
    const { createEngineClient } = await import('../../engine/client/index.ts');
    const eng = createEngineClient(path.join(a.dataDir, 'engine.sock'));
    await eng.setHaStandby({ by: 'admin', reason: 'patching fulcrum-a' });
    const check = await new Promise<{ status: number; body: string }>((resolve) => {
      const req = http.get({ socketPath: eng.socketPath, path: '/v1/ha/check' }, (res) => {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: t }));
      });
      req.end();
    });
    assert.equal(check.status, 503);
    assert.match(check.body, /handed this node's service to the peer: patching fulcrum-a/);
    await eng.setHaStandby(null);
    // The engine's 'ha' events (here standby on, then off) are the failover history, newest first.
    const history = await until('the standby events in the failover history', async () => {
      const items = (await a.api.req('GET', '/ha/history?limit=10')).body.items as { kind: string; state: string; message: string }[];
      return items.length >= 2 ? items : undefined;
    });
    assert.deepEqual(
      history.slice(0, 2).map((e) => `${e.kind} ${e.state}`),
      ['standby off', 'standby on'],
    );
    assert.match(history[1].message, /patching fulcrum-a/);
  });
});
