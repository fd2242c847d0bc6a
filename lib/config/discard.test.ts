/**
 * Discarding staged changes over the real API (a real SQLite file, the real engine daemon): one object or all,
 * each audited exactly once, operator states kept; and a failing apply explained in words, its reason kept in History.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { setupAdmin, startHarness, type Client, type Harness } from '../testing/harness.ts';

let h: Harness;
let admin: Client;

const web = {
  name: 'symphony-web',
  layer: 4,
  mode: 'nat',
  address: '192.168.10.50',
  ports: [443],
  healthCheck: { type: 'none' },
  realServers: [
    { name: 'sym-app-1', address: '192.168.10.61', port: 8443, weight: 100 },
    { name: 'sym-app-2', address: '192.168.10.62', port: 8443, weight: 100 },
  ],
};
const pacs = { ...web, name: 'pacs', address: '192.168.10.70', realServers: [{ name: 'pacs-1', address: '192.168.10.71', port: 104 }] };

before(async () => {
  h = await startHarness();
  admin = await setupAdmin(h);
});
after(async () => {
  await h.close();
});

const lastAuditId = async () => (await admin.req('GET', '/audit?limit=1')).body.items[0].id as number;
const changes = async () =>
  (await admin.req('GET', '/changes')).body as {
    count: number;
    candidateHash: string;
    policy: string;
    changes: { name: string; headline: string; id?: string; fields: { text: string }[] }[];
  };

test('discard one object, then all: back to the running version, one audit row each, states kept', async () => {
  const created = await admin.req('POST', '/virtual-services', web);
  assert.equal(created.status, 201, created.text);
  const applied = await admin.req('POST', '/apply', {});
  assert.equal(applied.status, 200, applied.text);
  const vs = created.body;
  const rs1 = vs.realServers[0];

  // Stage: a weight, a new service; set an operator state (operational, not staged).
  const w = await admin.req(
    'PUT',
    `/virtual-services/${vs.id}/real-servers/${rs1.id}`,
    { name: 'sym-app-1', address: '192.168.10.61', port: 8443, weight: 50 },
    { 'if-match': `"${rs1.version}"` },
  );
  assert.equal(w.status, 200, w.text);
  assert.equal((await admin.req('POST', '/virtual-services', pacs)).status, 201);
  assert.equal((await admin.req('PUT', `/real-servers/${rs1.id}/state`, { state: 'drain' })).status, 200);
  let c = await changes();
  assert.deepEqual(c.changes.map((x) => x.headline).sort(), [
    'Real server pacs-1 added to pacs',
    'Real server sym-app-1 in symphony-web changed',
    'Virtual service pacs added',
  ]);
  const weight = c.changes.find((x) => x.name === 'symphony-web/sym-app-1')!;
  assert.deepEqual(
    weight.fields.map((f) => f.text),
    ['weight of sym-app-1 in symphony-web: 100 → 50'],
  );
  assert.equal(weight.id, rs1.id, 'the change carries the id of its row');
  assert.match(c.policy, /^All or nothing/);

  // One object.
  const before1 = await lastAuditId();
  const one = await admin.req('POST', '/changes/discard', { object: { type: 'real-server', name: 'symphony-web/sym-app-1' } });
  assert.equal(one.status, 200, one.text);
  assert.equal(await lastAuditId(), before1 + 1, 'audited once');
  const row = (await admin.req('GET', '/audit?limit=1')).body.items[0];
  assert.equal(row.action, 'changes.discard-object');
  assert.equal(row.words.objectName, 'sym-app-1 in symphony-web');
  c = await changes();
  assert.deepEqual(c.changes.map((x) => x.name).sort(), ['pacs', 'pacs/pacs-1']);
  const read = (await admin.req('GET', `/virtual-services/${vs.id}`)).body;
  assert.equal(read.realServers[0].weight, 100);
  assert.equal(read.realServers[0].id, rs1.id, 'the row is kept, not replaced');
  assert.equal(read.realServers[0].state, 'drain', 'the operator state is not undone');

  // All, only as reviewed.
  const stale = await admin.req('POST', '/changes/discard', { expectedHash: 'not-the-candidate' });
  assert.equal(stale.status, 409);
  const before2 = await lastAuditId();
  const all = await admin.req('POST', '/changes/discard', { expectedHash: c.candidateHash });
  assert.equal(all.status, 200, all.text);
  assert.deepEqual(all.body, { discarded: 2, runningVersion: applied.body.version });
  assert.equal(await lastAuditId(), before2 + 1, 'audited once');
  assert.equal((await changes()).count, 0);
  assert.equal((await admin.req('GET', '/virtual-services')).body.items.length, 1);

  // Nothing left: a clear refusal, not a 500.
  const none = await admin.req('POST', '/changes/discard', {});
  assert.equal(none.status, 409);
  assert.match(none.body.error.message, /nothing to discard/);
});

test('discarding a deletion brings the service back; one that conflicts with a staged change is refused by field', async () => {
  const list = (await admin.req('GET', '/virtual-services')).body.items;
  const vs = list.find((x: { name: string }) => x.name === 'symphony-web');
  assert.equal((await admin.req('DELETE', `/virtual-services/${vs.id}`, undefined, { 'if-match': `"${vs.version}"` })).status, 204);
  // A new service takes the deleted one's VIP and port.
  const taker = await admin.req('POST', '/virtual-services', { ...pacs, name: 'taker', address: '192.168.10.50' });
  assert.equal(taker.status, 201, taker.text);
  const refused = await admin.req('POST', '/changes/discard', { object: { type: 'virtual-service', name: 'symphony-web' } });
  assert.equal(refused.status, 422, refused.text);
  assert.deepEqual(
    refused.body.error.details.fields.map((f: { path: string }) => f.path),
    ['ports'],
    refused.text,
  );
  assert.match(refused.body.error.message, /"taker" already listens on 192\.168\.10\.50/);
  assert.equal((await admin.req('POST', '/changes/discard', { object: { type: 'virtual-service', name: 'taker' } })).status, 200);
  const back = await admin.req('POST', '/changes/discard', { object: { type: 'virtual-service', name: 'symphony-web' } });
  assert.equal(back.status, 200, back.text);
  assert.equal((await changes()).count, 0);
  const restored = (await admin.req('GET', '/virtual-services')).body.items[0];
  assert.deepEqual(
    restored.realServers.map((r: { name: string; weight: number }) => [r.name, r.weight]),
    [
      ['sym-app-1', 100],
      ['sym-app-2', 100],
    ],
  );
  const unknown = await admin.req('POST', '/changes/discard', { object: { type: 'virtual-service', name: 'never-was' } });
  assert.equal(unknown.status, 404);
});

test('a failing apply says what to do, and History keeps the reason', async () => {
  // Layer 7 listens for real, on a port this test already holds (this machine allows binding non-local addresses,
  // so EADDRNOTAVAIL cannot be had here; outcomes.test.ts has its sentence).
  const holder = net.createServer().listen(0, '127.0.0.1');
  await once(holder, 'listening');
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const l7 = {
      name: 'symphony-l7',
      layer: 7,
      mode: 'http',
      address: '127.0.0.1',
      ports: [port],
      healthCheck: { type: 'none' },
      realServers: [{ name: 'a', address: '127.0.0.1', port: 9 }],
    };
    assert.equal((await admin.req('POST', '/virtual-services', l7)).status, 201);
    const r = await admin.req('POST', '/apply', {});
    assert.equal(r.status, 502, r.text);
    const failed = r.body.error.details.results.find((x: { name: string }) => x.name === 'symphony-l7');
    assert.equal(failed.advice, `Another program already listens on 127.0.0.1:${port}: stop it, or choose another port or address.`);
    assert.match(failed.message, /EADDRINUSE/, "the engine's own words stay as the detail");
    assert.match(r.body.error.details.advice, /^Nothing of this version runs/);
    const history = (await admin.req('GET', '/config-versions')).body.items;
    const v = history.find((x: { id: number }) => x.id === r.body.error.details.version);
    assert.equal(v.status, 'failed');
    assert.deepEqual(v.reason.services, [{ name: 'symphony-l7', advice: failed.advice }]);
  } finally {
    holder.close();
  }
});
