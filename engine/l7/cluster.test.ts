/**
 * The data plane as the daemon runs it: two worker processes under node:cluster. Reload under load, a real server
 * killed mid-load, persistence and TLS resumption across workers, a crashed worker replaced, and a clean close.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, freePort, httpService, RawClient, startBackend, type Backend } from './test-helpers.ts';
import type { ConfigInput, VirtualServiceInput } from '../config/index.ts';
import { decideServer, type ServerDecision } from '../server-state.ts';
import type { ServerKey } from '../dataplane.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-cluster-'));
let dp: L7DataPlane;
let pids: number[] = [];
const backends: Backend[] = [];
let a: Backend, b: Backend, c: Backend;

before(async () => {
  // Round-robin accept, so consecutive connections land on alternate workers and cross-worker behaviour is proven.
  dp = createL7DataPlane({ dataDir: dir, workers: 2, closeGraceMs: 500, acceptMode: 'round-robin' });
  [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
  backends.push(a, b, c);
});

after(async () => {
  await dp.close();
  await Promise.all(backends.map((x) => x.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

function apply(vs: VirtualServiceInput[], decisions: Record<string, ServerDecision> = {}, extra: Partial<ConfigInput> = {}) {
  return dp.apply({ config: config(vs, extra), decisions: new Map(Object.entries(decisions) as [ServerKey, ServerDecision][]) });
}

/** `clients` keep-alive connections sending requests until stopped; every answer's status and tag are counted. */
function load(port: number, clients: number, method = 'GET') {
  let isRunning = true;
  const statuses: Record<string, number> = {};
  const servers: Record<string, number> = {};
  const errors: string[] = [];
  const loops = Array.from({ length: clients }, async () => {
    let client = await RawClient.connect(port);
    while (isRunning) {
      try {
        const r = await client.request(method, '/', {}, method === 'POST' ? 'payload' : undefined);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        const tag = r.headers['x-server'] ?? '-';
        servers[tag] = (servers[tag] ?? 0) + 1;
        if (r.headers.connection === 'close') {
          client.close();
          client = await RawClient.connect(port);
        }
      } catch (err) {
        errors.push((err as Error).message.slice(0, 80));
        client.close();
        client = await RawClient.connect(port);
      }
    }
    client.close();
  });
  return {
    statuses,
    servers,
    errors,
    total: () => Object.values(statuses).reduce((x, y) => x + y, 0),
    stop: async () => {
      isRunning = false;
      await Promise.all(loops);
    },
  };
}

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

test('reload under load: no request fails, and each new configuration is live when apply returns', async () => {
  const port = await freePort();
  const version = (v: number, extra: Partial<VirtualServiceInput> = {}) =>
    httpService('web', port, [a, b], { layer7: { responseHeaders: [{ action: 'set', name: 'X-Version', value: String(v) }] }, ...extra });
  assert.deepEqual((await apply([version(1)])).map((r) => r.status), ['programmed']);
  pids = dp.workerPids();
  assert.equal(pids.length, 2);
  const l = load(port, 8);
  const probe = await RawClient.connect(port);
  for (let v = 2; v <= 6; v++) {
    const before = l.total();
    await until(() => l.total() > before + 50);
    const extra: Partial<VirtualServiceInput> =
      v % 2 === 0 ? { realServers: [a, b, c].map((x) => ({ name: x.name, address: '127.0.0.1', port: x.port })), scheduler: 'wrr' } : {};
    const res = await apply([version(v, extra)]);
    assert.equal(res[0].status, 'programmed');
    // Both workers have acknowledged: every new request, on any connection, sees version v.
    for (let i = 0; i < 4; i++) assert.equal((await probe.request('GET', '/')).headers['x-version'], String(v));
  }
  probe.close();
  await l.stop();
  assert.deepEqual(l.errors, []);
  assert.deepEqual(Object.keys(l.statuses), ['200']);
  assert.ok(l.total() > 250, `requests during reloads: ${l.total()}`);
  assert.ok((l.servers.c ?? 0) > 0, 'the server added by a reload took requests');
});

test('a real server killed mid-load: retried idempotent requests all succeed', async () => {
  const victim = await startBackend('victim');
  const port = await freePort();
  await apply([httpService('kill', port, [a, victim])]);
  const l = load(port, 8);
  await until(() => (l.servers.victim ?? 0) > 100);
  // Kill it the hard way: listener gone, every connection reset.
  victim.server.close();
  victim.server.closeAllConnections();
  const after = l.total();
  await until(() => l.total() > after + 300);
  await l.stop();
  assert.deepEqual(l.errors, []);
  assert.deepEqual(Object.keys(l.statuses), ['200'], JSON.stringify(l.statuses));
});

test('a real server killed mid-load: only requests in flight on it fail when they cannot be retried', async () => {
  const victim = await startBackend('victim2');
  const port = await freePort();
  await apply([httpService('killpost', port, [b, victim])]);
  const l = load(port, 6, 'POST');
  await until(() => (l.servers.victim2 ?? 0) > 100);
  victim.server.close();
  victim.server.closeAllConnections();
  const failedAtKill = () => l.total() - (l.statuses['200'] ?? 0) + l.errors.length;
  const after = l.total();
  await until(() => l.total() > after + 300);
  await l.stop();
  // At most one request per client can have been in flight on the victim at the kill.
  assert.ok(failedAtKill() <= 6, `failed: ${failedAtKill()} ${JSON.stringify(l.statuses)} ${l.errors.join('|')}`);
  assert.ok((l.statuses['200'] ?? 0) > 300);
});

test('source-IP persistence holds across workers, and drain keeps persistent clients', async () => {
  const port = await freePort();
  const vs = httpService('sticky', port, [a, b, c], { persistence: { type: 'source-ip', timeoutSeconds: 60 } });
  await apply([vs]);
  const seen = new Set<string>();
  // New connections are dealt to the workers in turn, so these land on both.
  for (let i = 0; i < 8; i++) {
    const client = await RawClient.connect(port);
    seen.add((await client.request('GET', '/')).headers['x-server']);
    client.close();
    if (i === 0) await new Promise((r) => setTimeout(r, 100)); // let the first placement reach the other worker
  }
  assert.equal(seen.size, 1, `one server for one client address, got ${[...seen]}`);
  const [server] = [...seen];
  await apply([vs], { [`sticky/${server}`]: decideServer('drain', 'up', 100) });
  const client = await RawClient.connect(port);
  assert.equal((await client.request('GET', '/')).headers['x-server'], server, 'drained: the persistent client stays');
  client.close();
});

test('TLS sessions resume on either worker (shared ticket keys)', async () => {
  const key = path.join(dir, 'k.pem');
  const crt = path.join(dir, 'c.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt, '-days', '2', '-subj', '/CN=www.example'], { stdio: 'ignore' });
  const port = await freePort();
  await apply([httpService('tls', port, [a], { layer7: { tls: { certificate: 'www' } } })], {}, { certificates: [{ name: 'www', certificatePem: fs.readFileSync(crt, 'utf8'), privateKeyPem: fs.readFileSync(key, 'utf8') }] });
  const connect = (session?: Buffer) =>
    new Promise<{ reused: boolean; session?: Buffer }>((resolve, reject) => {
      let ticket: Buffer | undefined;
      const s = tls.connect({ port, host: '127.0.0.1', servername: 'www.example', rejectUnauthorized: false, session }, () => {
        s.write('GET / HTTP/1.1\r\nHost: www.example\r\nConnection: close\r\n\r\n');
      });
      s.on('session', (t) => (ticket = t));
      s.on('data', () => undefined);
      s.on('end', () => resolve({ reused: s.isSessionReused(), session: ticket }));
      s.on('error', reject);
    });
  const first = await connect();
  assert.ok(first.session, 'a TLS 1.3 ticket was issued');
  const reuse = [];
  for (let i = 0; i < 4; i++) reuse.push((await connect(first.session)).reused);
  assert.deepEqual(reuse, [true, true, true, true]);
});

test('a crashed worker is replaced and given the configuration; close() leaves no process behind', async () => {
  const port = await freePort();
  await apply([httpService('survive', port, [a])]);
  const [victim] = dp.workerPids();
  process.kill(victim, 'SIGKILL');
  await until(() => dp.workerPids().length === 2 && !dp.workerPids().includes(victim));
  // The replacement gets the configuration shortly after it starts; until then the other worker serves.
  for (let i = 0; i < 6; i++) {
    const client = await RawClient.connect(port);
    assert.equal((await client.request('GET', '/')).status, 200);
    client.close();
  }
  const all = dp.workerPids();
  await dp.close();
  for (const pid of [...all, ...pids]) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} is gone`);
});
