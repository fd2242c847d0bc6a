/**
 * Host operations against a real SQLite file and the real engine daemon (lib/testing/harness.ts), over the API.
 *
 * One host, 127.0.0.77, is a real server in three services: two layer 7 TCP services on loopback (really proxied by
 * the engine, to a real listener this test runs) and one layer 4 NAT service (not programmed on this machine: no
 * IPVS). Another host, 127.0.0.78, shares a service with it and must never be touched.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';
import { auditWords } from '../config/audit-words.ts';

// The engine's answer to a state change is awaited this long at most (read when the engine client loads, which
// happens on the harness's first request, after this line).
process.env.FULCRUM_ENGINE_STATE_TIMEOUT_MS = '1500';

const HOST = '127.0.0.77';
let h: Harness;
let admin: Client;
let backend: net.Server;
let backendPort = 0;
const vipPorts: number[] = [];
/** Sockets the backend holds open, to close from the test (a drained host's connections finish on their own). */
const held = new Set<net.Socket>();

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as net.AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}

const l7 = (name: string, port: number, servers: { name: string; address: string }[]) => ({
  name,
  layer: 7,
  mode: 'tcp',
  address: '127.0.0.1',
  ports: [port],
  scheduler: 'rr',
  healthCheck: { type: 'none' },
  realServers: servers.map((s) => ({ ...s, port: backendPort })),
});

async function auditRows(action: string): Promise<any[]> {
  return (await admin.req('GET', `/audit?action=${action}&limit=50`)).body.items;
}

/** The engine's counters are sampled; poll (bounded) until the host's preview shows `n` open connections. */
async function untilActive(n: number): Promise<any> {
  for (let i = 0; i < 100; i++) {
    const p = (await admin.req('GET', `/hosts/${HOST}`)).body;
    if (p.activeConnections === n) return p;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`the preview never showed ${n} open connections to ${HOST}`);
}

before(async () => {
  backend = net.createServer((s) => {
    held.add(s);
    s.on('close', () => held.delete(s));
    s.on('data', (d) => s.write(d));
  });
  backend.listen(0, HOST);
  await once(backend, 'listening');
  backendPort = (backend.address() as net.AddressInfo).port;
  vipPorts.push(await freePort(), await freePort(), await freePort());
  h = await startHarness();
  admin = await setupAdmin(h);
  const created = [
    l7('host-web-a', vipPorts[0], [{ name: 'app-1', address: HOST }]),
    l7('host-web-b', vipPorts[1], [
      { name: 'app-1', address: HOST },
      { name: 'app-2', address: '127.0.0.78' },
    ]),
    {
      name: 'host-l4',
      layer: 4,
      mode: 'nat',
      address: '127.0.0.1',
      ports: [vipPorts[2]],
      healthCheck: { type: 'none' },
      realServers: [{ name: 'app-1-l4', address: HOST, port: backendPort }],
    },
  ];
  for (const vs of created) assert.equal((await admin.req('POST', '/virtual-services', vs)).status, 201);
  const applied = await admin.req('POST', '/apply', { comment: 'hosts test' });
  assert.equal(applied.status, 200, applied.text);
});
after(async () => {
  for (const s of held) s.destroy();
  backend.close();
  await h.close();
});

describe('hosts', () => {
  test('search by address or by real server name; the other host is apart', async () => {
    const all = (await admin.req('GET', '/hosts')).body;
    assert.deepEqual(
      all.items.map((x: { address: string }) => x.address),
      [HOST, '127.0.0.78'],
    );
    const byAddress = (await admin.req('GET', '/hosts?search=0.77')).body;
    assert.equal(byAddress.total, 1);
    assert.deepEqual(byAddress.items[0], {
      address: HOST,
      names: ['app-1', 'app-1-l4'],
      services: ['host-l4', 'host-web-a', 'host-web-b'],
      servers: 3,
      states: { online: 3, drain: 0, halt: 0 },
    });
    const byName = (await admin.req('GET', '/hosts?search=APP-2')).body;
    assert.deepEqual(
      byName.items.map((x: { address: string }) => x.address),
      ['127.0.0.78'],
    );
  });

  test('the preview lists every service and server at the address, its state, connections, and what is not programmed here', async () => {
    const client = net.connect(vipPorts[0], '127.0.0.1');
    await once(client, 'connect');
    client.write('hello');
    await once(client, 'data');
    const p = await untilActive(1);
    assert.deepEqual(
      p.servers.map((s: any) => [s.virtualService, s.realServer, s.layer, s.state, s.serviceStatus]),
      [
        ['host-l4', 'app-1-l4', 4, 'online', 'not-programmed'],
        ['host-web-a', 'app-1', 7, 'online', 'programmed'],
        ['host-web-b', 'app-1', 7, 'online', 'programmed'],
      ],
    );
    assert.match(p.servers[0].notice, /^host-l4 is not programmed on this machine \(.*IPVS.*\)/);
    assert.equal(p.servers[1].notice, null);
    assert.equal(p.servers[1].running.activeConnections, 1);
    assert.equal(p.haNotice, null);
    client.destroy();
    await untilActive(0);
  });

  test('drain everywhere: one audit entry naming each server; a staged server not yet running is said, not a 500', async () => {
    // A server at the host that is staged only: the engine does not run it and refuses its state (ENGINE_NOT_FOUND).
    const b = (await admin.req('GET', '/virtual-services')).body.items.find((v: { name: string }) => v.name === 'host-web-b');
    assert.equal(
      (await admin.req('POST', `/virtual-services/${b.id}/real-servers`, { name: 'app-1-staged', address: HOST, port: backendPort + 1 })).status,
      201,
    );
    const client = net.connect(vipPorts[1], '127.0.0.1');
    await once(client, 'connect');
    await untilActive(1);
    const auditBefore = (await auditRows('host.state')).length;

    const r = await admin.req('PUT', `/hosts/${HOST}/state`, { state: 'drain' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      r.body.changed.map((c: any) => [c.virtualService, c.realServer, c.before, c.state, c.outcome]),
      [
        ['host-l4', 'app-1-l4', 'online', 'drain', 'not-programmed'],
        ['host-web-a', 'app-1', 'online', 'drain', 'taken'],
        ['host-web-b', 'app-1', 'online', 'drain', 'taken'],
        ['host-web-b', 'app-1-staged', 'online', 'drain', 'not-running'],
      ],
    );
    assert.equal(r.body.isComplete, false);
    assert.equal(
      r.body.summary,
      `2 of 4 servers at ${HOST} draining at once; 1 in a service not programmed on this machine; 1 not running yet (goes with the next apply).`,
    );

    // The engine runs drain for the two proxied servers; the other host is untouched; the open connection lives on.
    const status = (await admin.req('GET', '/status')).body.engine.status;
    const op = (vs: string, rs: string) => status.services.find((s: any) => s.name === vs).realServers.find((x: any) => x.name === rs).operator;
    assert.deepEqual(
      [op('host-web-a', 'app-1'), op('host-web-b', 'app-1'), op('host-web-b', 'app-2'), op('host-l4', 'app-1-l4')],
      ['drain', 'drain', 'online', 'drain'],
    );
    client.write('still here');
    assert.equal(String((await once(client, 'data'))[0]), 'still here');

    const rows = await auditRows('host.state');
    assert.equal(rows.length, auditBefore + 1, 'one audit entry for the host operation');
    const row = rows[0];
    assert.equal(row.objectType, 'host');
    assert.equal(row.objectId, HOST);
    assert.deepEqual(auditWords(row), {
      objectName: HOST,
      summary: `Drained host ${HOST} in 3 services`,
      changes: [
        'app-1-l4 in host-l4: online → drain',
        'app-1 in host-web-a: online → drain',
        'app-1 in host-web-b: online → drain',
        'app-1-staged in host-web-b: online → drain',
      ],
    });
    assert.equal((await auditRows('real-server.state')).length, 0, 'no second entry per server');

    // The count falls as clients leave on their own: drain cut nothing.
    client.destroy();
    await untilActive(0);

    // Again: nothing differs, nothing is written.
    const again = await admin.req('PUT', `/hosts/${HOST}/state`, { state: 'drain' });
    assert.equal(again.body.changed.length, 0);
    assert.equal(again.body.unchanged.length, 4);
    assert.equal((await auditRows('host.state')).length, auditBefore + 1);
  });

  test('back online the same way', async () => {
    const r = await admin.req('PUT', `/hosts/${HOST}/state`, { state: 'online' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      r.body.changed.map((c: any) => c.outcome),
      ['not-programmed', 'taken', 'taken', 'not-running'],
    );
    const p = (await admin.req('GET', `/hosts/${HOST}`)).body;
    assert.deepEqual(
      p.servers.map((s: any) => s.state),
      ['online', 'online', 'online', 'online'],
    );
    assert.deepEqual(
      p.servers.filter((s: any) => s.running).map((s: any) => s.running.operator),
      ['online', 'online', 'online'],
    );
    assert.match(p.servers[3].notice, /app-1-staged is staged in host-web-b but not applied yet/);
  });

  test('refusals name the field, an unknown host is a 404, a viewer may read but not act', async () => {
    const bad = await admin.req('PUT', '/hosts/not-an-ip/state', { state: 'drain' });
    assert.equal(bad.status, 422);
    assert.deepEqual(
      bad.body.error.details.fields.map((f: { path: string }) => f.path),
      ['address'],
    );
    const state = await admin.req('PUT', `/hosts/${HOST}/state`, { state: 'paused' });
    assert.equal(state.status, 422);
    assert.match(state.body.error.message, /online, drain or halt/);
    const none = await admin.req('GET', '/hosts/10.9.9.9');
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, 'API_NOT_FOUND');
    assert.equal((await admin.req('PUT', '/hosts/10.9.9.9/state', { state: 'drain' })).status, 404);

    assert.equal((await admin.req('POST', '/users', { username: 'vera', password: 'a viewer passphrase here', role: 'viewer' })).status, 201);
    const viewer = new Client(h.baseUrl);
    assert.equal((await viewer.login('vera', 'a viewer passphrase here')).status, 200);
    assert.equal((await viewer.req('GET', `/hosts/${HOST}`)).status, 200);
    const denied = await viewer.req('PUT', `/hosts/${HOST}/state`, { state: 'halt' });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'AUTH_FORBIDDEN');
    const deniedRow = (await auditRows('host.state')).find((x) => x.outcome === 'denied');
    assert.equal(auditWords(deniedRow).summary, 'Set the state of a host (denied)');
    assert.deepEqual(
      (await admin.req('GET', `/hosts/${HOST}`)).body.servers.map((s: any) => s.state),
      ['online', 'online', 'online', 'online'],
    );
  });

  test('no transaction is held across the engine: with the engine paused, other writes go through; the answer says what was not taken', async () => {
    const engineProcess = h.engineProcess!;
    engineProcess.kill('SIGSTOP');
    try {
      const auditBefore = (await auditRows('host.state')).length;
      const pending = admin.req('PUT', `/hosts/${HOST}/state`, { state: 'halt' });
      let isAnswered = false;
      void pending.then(() => (isAnswered = true));
      // The host's audit entry is committed before the engine is asked; wait for it, then write something else.
      while ((await auditRows('host.state')).length === auditBefore) await new Promise((r) => setTimeout(r, 20));
      const other = await admin.req('POST', '/virtual-services', l7('host-other', await freePort(), [{ name: 'x', address: '127.0.0.79' }]));
      assert.equal(other.status, 201, other.text);
      assert.equal(isAnswered, false, 'the other write finished while the host operation still waited for the engine');
      const r = await pending;
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(
        r.body.changed.map((c: any) => c.outcome),
        ['not-taken', 'not-taken', 'not-taken', 'not-taken'],
      );
      assert.match(r.body.changed[0].message, /^Stored; the engine did not take it now \(.*no answer within 1\.5 s/);
      // Asked once: the next servers are not each made to wait out the timeout again.
      assert.match(r.body.changed[1].message, /^Stored; the engine was not asked after it did not answer for app-1-l4 in host-l4\./);
      assert.match(r.body.summary, /not taken by the engine now/);
    } finally {
      engineProcess.kill('SIGCONT');
    }
  });
});
