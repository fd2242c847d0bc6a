/**
 * The HA pair's settings through the API, the candidate and a real engine daemon: a staged `ha` block renders into
 * the candidate the engine's schema accepts, shows as a pending change, and once applied the engine's HA status
 * says it is configured, with keepalived.conf rendered from it. keepalived itself is the stand-in
 * (engine/ha/testing/fake-keepalived.mjs, a real child process writing the real notify FIFO): the real one must not
 * run against this machine's interfaces outside the UML test kernel. Only loopback addresses; no health checks.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigSchema } from '../engine/config/index.ts';
import { setupAdmin, startHarness, type Client, type Harness } from './testing/harness.ts';

const FAKE_KEEPALIVED = path.resolve('engine/ha/testing/fake-keepalived.mjs');
const ha = {
  interface: 'lo',
  virtualRouterId: 61,
  nodes: [
    { name: 'lb1', address: '127.0.0.11', priority: 150 },
    { name: 'lb2', address: '127.0.0.12', priority: 100 },
  ],
};

let h: Harness;
let admin: Client;
const env = { FULCRUM_KEEPALIVED: process.env.FULCRUM_KEEPALIVED, FULCRUM_HA_NODE: process.env.FULCRUM_HA_NODE };

before(async () => {
  // The engine daemon inherits these: the stand-in keepalived, and which node it is.
  process.env.FULCRUM_KEEPALIVED = FAKE_KEEPALIVED;
  process.env.FULCRUM_HA_NODE = 'lb1';
  h = await startHarness();
  admin = await setupAdmin(h);
});
after(async () => {
  await h.close();
  for (const [k, v] of Object.entries(env))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
});

async function until<T>(what: string, fn: () => Promise<T | undefined | false>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('HA settings: none staged at first, defaults from the engine schema', async () => {
  const r = await admin.req('GET', '/ha/settings');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.settings, null);
  assert.deepEqual(r.body.defaults, { isEnabled: true, advertIntervalMs: 500, preempt: false, connectionSync: { isEnabled: true } });
});

test('HA settings: staged, rendered as the ha block the engine accepts, applied, and the engine reports HA configured', async () => {
  const put = await admin.req('PUT', '/ha/settings', { ...ha, preempt: true, preemptDelaySeconds: 30 });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.isPending, true);
  assert.deepEqual(put.body.instances, [{ interface: 'lo', virtualRouterId: 61, addresses: [] }]);

  const changes = await admin.req('GET', '/changes');
  const change = changes.body.changes.find((c: { objectType: string }) => c.objectType === 'ha');
  assert.ok(change, `the HA block is a pending change: ${changes.text}`);
  assert.equal(change.headline, 'Settings of the HA pair added');
  assert.ok(
    change.fields.some((f: { path: string; after: unknown }) => f.path === 'preemptDelaySeconds' && f.after === 30),
    JSON.stringify(change.fields),
  );

  const applied = await admin.req('POST', '/apply', { comment: 'HA on' });
  assert.equal(applied.status, 200, applied.text);
  const version = await admin.req('GET', `/config-versions/${applied.body.version}`);
  assert.equal(version.status, 200, version.text);
  const snapshot = version.body.snapshot ?? version.body.config;
  assert.ok(snapshot?.ha, `the version's snapshot carries the ha block: ${version.text.slice(0, 400)}`);
  const parsed = ConfigSchema.parse(snapshot);
  assert.deepEqual(parsed.ha?.nodes, ha.nodes);
  assert.equal(parsed.ha?.preemptDelaySeconds, 30);

  const st = await until('the engine reports HA', async () => {
    const s = await admin.req('GET', '/status');
    const e = s.body.engine?.status ?? s.body.engine;
    return e?.ha?.keepalived?.isRunning && e.ha;
  });
  assert.equal(st.isEnabled, true);
  // The stand-in keepalived reports BACKUP at start (as keepalived does before it wins an election).
  const inst = await until("keepalived's first state", async () => {
    const s = await admin.req('GET', '/status');
    const i = (s.body.engine?.status?.ha?.instances ?? [])[0];
    return i?.state === 'BACKUP' && i;
  });
  assert.equal(inst.priority, 150);
  assert.equal(st.node, 'lb1');
  assert.deepEqual(st.peers, [{ name: 'lb2', address: '127.0.0.12' }]);
  assert.deepEqual(
    st.instances.map((i: { interface: string; virtualRouterId: number }) => [i.interface, i.virtualRouterId]),
    [['lo', 61]],
  );
  const conf = fs.readFileSync(path.join(h.dataDir, 'keepalived.conf'), 'utf8');
  assert.match(conf, /virtual_router_id 61/);
  assert.match(conf, /priority 150/);
  assert.match(conf, /preempt_delay 30/);
  assert.match(conf, /unicast_peer \{\s*127\.0\.0\.12/);
  // The status now says what stops HA on this machine, if anything (no IPVS here for the sync daemon).
  console.log('engine HA status after apply:', JSON.stringify({ role: st.role, error: st.error ?? null, syncDaemon: st.syncDaemon, sysctls: st.sysctls }));

  const after = await admin.req('GET', '/ha/settings');
  assert.equal(after.body.isPending, false);
  assert.equal((await admin.req('GET', '/changes')).body.count, 0);
});

test('HA settings: a wrong field is refused naming it, alone and against the rest of the candidate; nothing is staged', async () => {
  const before = await admin.req('GET', '/ha/settings');
  const bad = await admin.req('PUT', '/ha/settings', { ...ha, nodes: [ha.nodes[0], { ...ha.nodes[1], priority: 255 }] });
  assert.equal(bad.status, 422, bad.text);
  assert.equal(bad.body.error.code, 'API_VALIDATION');
  assert.deepEqual(
    bad.body.error.details.fields.map((f: { path: string }) => f.path),
    ['nodes.1.priority'],
  );
  assert.match(bad.body.error.details.fields[0].message, /1 to 254/);

  const unknown = await admin.req('PUT', '/ha/settings', { ...ha, authentication: 'secret' });
  assert.equal(unknown.status, 422, unknown.text);
  assert.equal(unknown.body.error.details.fields[0].path, 'authentication');

  // A floating IP staged (never applied here: this test programs no address) and a node given the same address.
  const fip = await admin.req('POST', '/floating-ips', { address: '127.0.0.50', interface: 'lo' });
  assert.equal(fip.status, 201, fip.text);
  const clash = await admin.req('PUT', '/ha/settings', { ...ha, nodes: [{ ...ha.nodes[0], address: '127.0.0.50' }, ha.nodes[1]] });
  assert.equal(clash.status, 422, clash.text);
  assert.deepEqual(
    clash.body.error.details.fields.map((f: { path: string }) => f.path),
    ['nodes.0.address'],
  );
  assert.match(clash.body.error.details.fields[0].message, /also a floating IP/);
  const moving = await admin.req('PUT', '/ha/settings', { ...ha, movingAddresses: ['127.0.0.99'] });
  assert.deepEqual(
    moving.body.error.details.fields.map((f: { path: string }) => f.path),
    ['movingAddresses.0'],
  );

  // The other way round: a floating IP edit that would break the staged block is refused at its own field.
  const onNode = await admin.req('POST', '/floating-ips', { address: '127.0.0.11', interface: 'lo' });
  assert.equal(onNode.status, 422, onNode.text);
  assert.equal(onNode.body.error.details.fields[0].path, 'address');
  assert.match(onNode.body.error.details.fields[0].message, /node's own address must stay with the node/);
  assert.equal((await admin.req('PUT', '/ha/settings', { ...before.body.settings, movingAddresses: ['127.0.0.50'] })).status, 200);
  const gone = await admin.req('DELETE', `/floating-ips/${fip.body.id}`);
  assert.equal(gone.status, 422, gone.text);
  assert.match(gone.body.error.message, /nothing to move.*movingAddresses\.0/);
  assert.equal((await admin.req('PUT', '/ha/settings', before.body.settings)).status, 200);

  const now = await admin.req('GET', '/ha/settings');
  assert.deepEqual(now.body.settings, before.body.settings, 'refused writes stage nothing');
  assert.deepEqual(now.body.instances, [{ interface: 'lo', virtualRouterId: 61, addresses: ['127.0.0.50/32'] }], 'the staged floating IP moves with the pair');
  const audit = await admin.req('GET', '/audit?objectType=ha-settings');
  assert.equal(audit.status, 200, audit.text);
  const rows = (audit.body.items ?? audit.body.events) as { action: string; outcome: string }[];
  assert.deepEqual(
    rows.map((e) => `${e.action} ${e.outcome}`).sort(),
    [
      'ha-settings.update invalid',
      'ha-settings.update invalid',
      'ha-settings.update invalid',
      'ha-settings.update invalid',
      'ha-settings.update success',
      'ha-settings.update success',
      'ha-settings.update success',
    ],
    audit.text.slice(0, 600),
  );
});

test('HA settings: only a role with config:write may write them, and a secondary refuses them naming the primary', async () => {
  const key = await admin.req('POST', '/api-keys', { name: 'ops', role: 'operator' });
  const { Client } = await import('./testing/harness.ts');
  const op = new Client(h.baseUrl);
  op.bearer = key.body.key;
  assert.equal((await op.req('GET', '/ha/settings')).status, 200);
  const r = await op.req('PUT', '/ha/settings', ha);
  assert.equal(r.status, 403, r.text);
  assert.equal(r.body.error.code, 'AUTH_FORBIDDEN');

  // This console as the secondary of a pair (the row pairing writes): edits go to the primary, these too.
  const { db } = await import('./db.ts');
  await db().haPeer.create({
    data: {
      id: 1,
      role: 'secondary',
      localName: 'lb2',
      peerName: 'lb1',
      peerUrl: 'https://127.0.0.1:1',
      peerConsoleUrl: 'https://lb1.example:8443',
      peerFingerprint: 'x',
      pairKey: 'x',
    },
  });
  try {
    const refused = await admin.req('PUT', '/ha/settings', ha);
    assert.equal(refused.status, 409, refused.text);
    assert.equal(refused.body.error.code, 'HA_SECONDARY_READ_ONLY');
    assert.match(refused.body.error.message, /make changes on lb1/);
  } finally {
    await db().haPeer.delete({ where: { id: 1 } });
  }
});

test('HA settings: removed, the candidate has no ha block and a single node is pending', async () => {
  const del = await admin.req('DELETE', '/ha/settings');
  assert.equal(del.status, 204, del.text);
  const changes = await admin.req('GET', '/changes');
  assert.ok(
    changes.body.changes.some((c: { objectType: string; kind: string }) => c.objectType === 'ha' && c.kind === 'removed'),
    changes.text,
  );
  assert.equal((await admin.req('DELETE', '/ha/settings')).status, 404);

  // Discarding that one change (as the changes page does) brings back the running block.
  const discard = await admin.req('POST', '/changes/discard', { object: { type: 'ha', name: 'the HA pair' } });
  assert.equal(discard.status, 200, discard.text);
  const back = await admin.req('GET', '/ha/settings');
  assert.equal(back.body.isPending, false);
  assert.deepEqual(back.body.settings?.nodes, ha.nodes);
  assert.ok(!(await admin.req('GET', '/changes')).body.changes.some((c: { objectType: string }) => c.objectType === 'ha'));
});
