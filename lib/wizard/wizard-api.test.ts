/**
 * The wizard over the real API (real HTTP, real SQLite file): a run survives a logout and resumes where it stopped,
 * with what was typed; each step refuses a wrong answer at its field and does not move on; review runs the pre-flight
 * checks against this machine's own interfaces and listening sockets and refuses to create what would not work; create
 * stages every object and writes one audit row for the run with its objects; a second create is refused; another user
 * does not see the run; an operator prepares a run but an admin creates it; the ARP scripts download per real server.
 * Real servers and VIPs are loopback (127.0.0.x, on lo here) or TEST-NET (198.51.100.x, on no interface); checks are
 * off, and nothing is applied.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { ADMIN, Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';

let h: Harness;
let admin: Client;

before(async () => {
  h = await startHarness({ withEngine: false });
  admin = await setupAdmin(h);
});
after(async () => {
  await h.close();
});

const service = (address: string, ports = [80, 443]) => ({
  name: 'symphony',
  address,
  ports: ports.map((port, i) => ({ port, label: i ? 'HTTPS' : 'HTTP', isTls: i > 0 })),
});
const servers = (...addresses: string[]) => ({ realServers: addresses.map((address, i) => ({ name: `sym-app-${i + 1}`, address, port: null, weight: null })) });

test('a DR run: refusals at each step, resumed after a logout, pre-flight refusal, create staged and audited once', async () => {
  const start = await admin.req('POST', '/wizard/runs', { templateId: 'emis-symphony' });
  assert.equal(start.status, 201, start.text);
  const id = start.body.id;
  assert.deepEqual(start.body.steps, ['mode', 'service', 'servers', 'persistence', 'health', 'review']);
  const step = (name: string, body: unknown) => admin.req('PUT', `/wizard/runs/${id}/steps/${name}`, body);

  const badMode = await step('mode', { modeId: 'l4-nat' });
  assert.equal(badMode.status, 422);
  assert.match(badMode.body.error.details.fields[0].message, /no mode "l4-nat"/);
  const mode = await step('mode', { modeId: 'l4-dr' });
  assert.equal(mode.body.step, 'service');
  assert.deepEqual(mode.body.steps, ['mode', 'service', 'servers', 'persistence', 'health', 'review'], 'DR has no certificate step');

  const badService = await step('service', service('127.0.0.300'));
  assert.equal(badService.status, 422);
  assert.deepEqual(
    badService.body.error.details.fields.map((f: { path: string }) => f.path),
    ['address'],
  );
  assert.equal((await admin.req('GET', `/wizard/runs/${id}`)).body.step, 'service', 'a refused step does not move on');
  assert.equal((await admin.req('GET', `/wizard/runs/${id}`)).body.answers.service.address, '127.0.0.300', 'what was typed is kept');
  assert.equal((await step('service', service('127.0.0.50'))).body.step, 'servers');

  const badServers = await step('servers', { realServers: [{ name: 'sym-app-1', address: '127.0.0.11', port: 8080, weight: null }] });
  assert.equal(badServers.status, 422);
  assert.match(badServers.body.error.details.fields[0].message, /cannot translate ports/);
  assert.equal((await step('servers', servers('127.0.0.11', '198.51.100.12'))).body.step, 'persistence');

  // Log out and in again: the run is there, at the step it reached, with its answers.
  await admin.req('DELETE', '/session');
  assert.equal((await admin.req('GET', '/wizard/runs')).status, 401);
  await admin.login(ADMIN.username, ADMIN.password);
  const open = (await admin.req('GET', '/wizard/runs')).body.items;
  assert.equal(open.length, 1);
  assert.deepEqual([open[0].id, open[0].step, open[0].answers.servers.realServers[1].address], [id, 'persistence', '198.51.100.12']);

  const badPersistence = await step('persistence', { type: 'http-cookie', timeoutSeconds: null });
  assert.equal(badPersistence.status, 422);
  assert.match(badPersistence.body.error.details.fields[0].message, /Cookie persistence needs a layer 7 http service/);
  assert.equal((await step('persistence', { type: 'source-ip', timeoutSeconds: 600 })).body.step, 'health');
  const badHealth = await step('health', { type: 'http', path: 'health', port: null, intervalMs: null, timeoutMs: null });
  assert.equal(badHealth.status, 422);
  assert.deepEqual(badHealth.body.error.details.fields[0], { path: 'path', message: 'A check path starts with "/".' });
  assert.equal((await step('health', { type: 'none', port: null, intervalMs: null, timeoutMs: null })).body.step, 'review');

  // Pre-flight against this machine: 198.51.100.12 is on no interface here, so DR cannot reach it.
  const review = await admin.req('GET', `/wizard/runs/${id}/review`);
  assert.equal(review.status, 200, review.text);
  assert.deepEqual(
    review.body.issues.map((i: { step: string; path: string }) => `${i.step}.${i.path}`),
    ['servers.realServers.1.address'],
  );
  const refused = await admin.req('POST', `/wizard/runs/${id}/stage`);
  assert.equal(refused.status, 422);
  assert.match(refused.body.error.message, /servers\.realServers\.1\.address: No interface of this appliance/);
  assert.equal((await admin.req('GET', '/changes')).body.count, 0, 'nothing staged');

  const resaved = await step('servers', servers('127.0.0.11', '127.0.0.12'));
  assert.equal(resaved.status, 200);
  assert.equal(resaved.body.step, 'review', 'an earlier step fixed from the review goes back to the review');
  const ok = await admin.req('GET', `/wizard/runs/${id}/review`);
  assert.deepEqual(ok.body.issues, []);
  assert.equal(ok.body.objects[0].name, 'symphony');
  assert.deepEqual(
    ok.body.changes.map((c: { kind: string; name: string }) => `${c.kind} ${c.name}`),
    ['added symphony', 'added symphony/sym-app-1', 'added symphony/sym-app-2'],
  );
  assert.ok(ok.body.preflight.checks.some((c: { name: string; isOk: boolean }) => c.isOk && /subnet of sym-app-1/.test(c.name)));

  const staged = await admin.req('POST', `/wizard/runs/${id}/stage`);
  assert.equal(staged.status, 200, staged.text);
  assert.deepEqual(
    staged.body.services.map((s: { name: string }) => s.name),
    ['symphony'],
  );
  assert.equal((await admin.req('GET', '/changes')).body.count, 3);
  const audit = (await admin.req('GET', '/audit?action=wizard.run&outcome=success')).body.items;
  assert.equal(audit.length, 1, 'one audit row for the run');
  assert.equal(audit[0].objectId, id);
  const recorded = typeof audit[0].after === 'string' ? JSON.parse(audit[0].after) : audit[0].after;
  assert.deepEqual([recorded.template, recorded.mode, recorded.objects[0].realServers.length], ['emis-symphony', 'l4-dr', 2]);
  const again = await admin.req('POST', `/wizard/runs/${id}/stage`);
  assert.equal(again.status, 409);
  assert.match(again.body.error.message, /already staged/);
  assert.equal((await admin.req('GET', '/wizard/runs')).body.items.length, 0, 'a staged run is no longer open');

  // The ARP check asks the LAN from the interface on each server's subnet; loopback has no ARP, so it says so, unprobed.
  const arp = await admin.req('POST', `/wizard/runs/${id}/arp-check`);
  assert.equal(arp.status, 200, arp.text);
  assert.deepEqual(
    arp.body.items.map((r: { realServer: string; outcome: string }) => `${r.realServer} ${r.outcome}`),
    ['sym-app-1 not-probed', 'sym-app-2 not-probed'],
  );
  assert.equal(arp.body.items[0].message, "sym-app-1: 127.0.0.11 is on this appliance's loopback, where there is no ARP to ask.");
  // Without a MAC from ARP there is no frame for the engine to send to the VIP: not checked, and said so.
  assert.deepEqual(
    arp.body.items.map((r: { vipCheck: { outcome: string; port: number } }) => [r.vipCheck.outcome, r.vipCheck.port]),
    [
      ['not-checked', 80],
      ['not-checked', 80],
    ],
  );
  assert.equal(arp.body.items[0].vipCheck.message, 'sym-app-1: not checked for the VIP: the ARP check found no MAC to send a frame to.');

  // The ARP scripts, per real server, for the engineer to take to each server.
  const sh = await admin.req('GET', `/wizard/runs/${id}/arp/sym-app-2?os=linux&linuxLan=ens192`);
  assert.equal(sh.status, 200);
  assert.match(sh.headers.get('content-disposition')!, /filename="fulcrum-arp-sym-app-2\.sh"/);
  assert.match(sh.text, /VIP='127\.0\.0\.50'/);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'arp-')), 'a.sh');
  fs.writeFileSync(file, sh.text);
  assert.equal(spawnSync('bash', ['-n', file]).status, 0);
  const ps = await admin.req('GET', `/wizard/runs/${id}/arp/sym-app-1?os=windows&windowsLan=Ethernet%202`);
  assert.match(ps.text, /\$Lan = 'Ethernet 2'/);
  const bad = await admin.req('GET', `/wizard/runs/${id}/arp/sym-app-1?os=windows&windowsLan=a'b`);
  assert.equal(bad.status, 422);
  assert.equal(bad.body.error.details.fields[0].path, 'windowsLan');
});

/** The hospital's CA, played by the openssl CLI: signs `csrPem` (copying its names) with a CA of its own. */
function signWithTestCa(csrPem: string): { leafPem: string; caPem: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-ca-'));
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  fs.writeFileSync(path.join(dir, 'req.csr'), csrPem);
  run([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '30',
    '-subj',
    '/CN=Test Trust Issuing CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  ]);
  run([
    'x509',
    '-req',
    '-in',
    'req.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '30',
    '-copy_extensions',
    'copy',
    '-out',
    'leaf.pem',
  ]);
  return { leafPem: fs.readFileSync(path.join(dir, 'leaf.pem'), 'utf8'), caPem: fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8') };
}

test("Layer 7 with a key and CSR for the hospital's CA: create goes on with a placeholder, which the CA's certificate replaces in place", async () => {
  const id = (await admin.req('POST', '/wizard/runs', { templateId: 'emis-symphony' })).body.id;
  const step = (name: string, body: unknown) => admin.req('PUT', `/wizard/runs/${id}/steps/${name}`, body);
  assert.equal((await step('mode', { modeId: 'l7-snat' })).status, 200);
  assert.equal((await step('service', { ...service('127.0.0.52'), name: 'symweb' })).status, 200);
  assert.equal((await step('servers', { realServers: [{ name: 'symweb-1', address: '127.0.0.11', port: 8443, weight: null }] })).status, 200);
  assert.equal((await step('persistence', { type: 'http-cookie', timeoutSeconds: null })).status, 200);
  assert.equal((await step('health', { type: 'none', port: null, intervalMs: null, timeoutMs: null })).status, 200);
  const tls = (certificate?: string) => ({ source: 'request', certificate, httpsRedirect: true, xForwardedFor: true });

  const noRequest = await step('tls', tls());
  assert.equal(noRequest.status, 422);
  assert.equal(noRequest.body.error.details.fields[0].path, 'certificate');
  const unknown = await step('tls', tls('symweb-tls'));
  assert.equal(unknown.status, 422, 'a request that is not on this appliance is refused at the step');
  assert.match(unknown.body.error.details.fields[0].message, /no signing request or certificate "symweb-tls"/);

  // The CSR is made by the Certificates page's own route; the wizard only names it.
  const made = await admin.req('POST', '/certificate-requests', {
    name: 'symweb-tls',
    commonName: 'symphony.trust.example',
    altNames: ['IP:127.0.0.52'],
  });
  assert.equal(made.status, 201, made.text);
  assert.match(made.body.csrPem, /^-----BEGIN CERTIFICATE REQUEST-----/);
  assert.equal((await step('tls', tls('symweb-tls'))).body.step, 'review');

  const review = (await admin.req('GET', `/wizard/runs/${id}/review`)).body;
  assert.deepEqual(review.issues, []);
  assert.deepEqual([review.selfSignedCertificate, review.certificateRequest], ['symweb-tls', 'symweb-tls']);
  assert.equal(review.objects[0].layer7.tls.certificate, 'symweb-tls');
  const staged = await admin.req('POST', `/wizard/runs/${id}/stage`);
  assert.equal(staged.status, 200, staged.text);
  assert.deepEqual([staged.body.certificate, staged.body.certificateRequest], ['symweb-tls', 'symweb-tls']);
  assert.equal((await admin.req('GET', `/wizard/runs/${id}`)).body.result.certificateRequest, 'symweb-tls');

  const certs = () => admin.req('GET', '/certificates').then((r) => r.body.items.find((c: { name: string }) => c.name === 'symweb-tls'));
  const placeholder = await certs();
  assert.match(placeholder.subject, /CN=symphony\.trust\.example/);
  assert.match(placeholder.chainStatus, /Self-signed/);
  assert.deepEqual(placeholder.altNames, ['DNS:symphony.trust.example', 'IP Address:127.0.0.52'], "the request's names (its CN added as a DNS name)");
  assert.deepEqual(placeholder.usedBy, ['symweb']);
  const waiting = (await admin.req('GET', '/certificate-requests')).body.items.find((r: { name: string }) => r.name === 'symweb-tls');
  assert.equal(waiting.isRenewal, true, 'the request now completes by replacing the placeholder of its name');
  const audit = (await admin.req('GET', `/audit?action=wizard.run&objectId=${id}`)).body.items;
  assert.match(audit[0].message, /self-signed placeholder symweb-tls until the CA signs request symweb-tls/);

  // Days later: the CA's certificate for the request's key replaces the placeholder, under the same name.
  const ca = signWithTestCa(made.body.csrPem);
  const done = await admin.req('POST', `/certificate-requests/${made.body.id}/complete`, { certificatePem: ca.leafPem + ca.caPem });
  assert.equal(done.status, 200, done.text);
  const signed = await certs();
  assert.match(signed.issuer, /CN=Test Trust Issuing CA/);
  assert.notEqual(signed.fingerprint, placeholder.fingerprint);
  assert.deepEqual(signed.usedBy, ['symweb']);
  assert.equal(
    (await admin.req('GET', '/certificate-requests')).body.items.some((r: { name: string }) => r.name === 'symweb-tls'),
    false,
  );
});

test('a VIP:port held by a socket on this host is refused by pre-flight at that port', async () => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  try {
    const id = (await admin.req('POST', '/wizard/runs', { templateId: 'dicom-imaging' })).body.id;
    const step = (name: string, body: unknown) => admin.req('PUT', `/wizard/runs/${id}/steps/${name}`, body);
    await step('mode', { modeId: 'l4-dr' });
    assert.equal((await step('service', { name: 'pacs', address: '127.0.0.1', ports: [{ port, label: 'DICOM', isTls: false }] })).status, 200);
    await step('servers', { realServers: [{ name: 'pacs-1', address: '127.0.0.21', port: null, weight: null }] });
    await step('persistence', { type: 'source-ip', timeoutSeconds: null });
    const noAe = await step('health', { type: 'dicom-echo', calledAeTitle: '', port: null, intervalMs: null, timeoutMs: null });
    assert.equal(noAe.status, 422);
    assert.equal(noAe.body.error.details.fields[0].path, 'calledAeTitle');
    await step('health', { type: 'none', port: null, intervalMs: null, timeoutMs: null });
    const review = (await admin.req('GET', `/wizard/runs/${id}/review`)).body;
    assert.equal(review.issues.length, 1, JSON.stringify(review.issues));
    assert.equal(review.issues[0].path, 'ports.0.port');
    assert.match(review.issues[0].message, /already listens on 127\.0\.0\.1:\d+/);
  } finally {
    server.close();
  }
});

test("runs are their owner's: another user gets 404; an operator prepares a run, only an admin creates it", async () => {
  const mine = (await admin.req('POST', '/wizard/runs', { templateId: 'emis-symphony' })).body.id;
  const made = await admin.req('POST', '/users', { username: 'night-operator', password: 'another long passphrase', role: 'operator' });
  assert.equal(made.status, 201, made.text);
  const op = new Client(h.baseUrl);
  assert.equal((await op.login('night-operator', 'another long passphrase')).status, 200);
  assert.equal((await op.req('GET', `/wizard/runs/${mine}`)).status, 404);
  const run = await op.req('POST', '/wizard/runs', { templateId: 'emis-symphony' });
  assert.equal(run.status, 201);
  assert.equal((await op.req('PUT', `/wizard/runs/${run.body.id}/steps/mode`, { modeId: 'l7-snat' })).status, 200);
  const stage = await op.req('POST', `/wizard/runs/${run.body.id}/stage`);
  assert.equal(stage.status, 403);
  assert.equal(stage.body.error.code, 'AUTH_FORBIDDEN');
});
