/**
 * Certificates over the API on a real SQLite file (issue 13, item 7): a key and CSR made on the appliance, signed by
 * the openssl CLI as the CA, completed into a certificate listed with issuer, alternative names, chain, expiry and the
 * service using it; then renewed in place from a second request, staged as a pending change; roles checked.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';

let h: Harness;
let admin: Client;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-ca-'));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

before(async () => {
  h = await startHarness({ withEngine: false });
  admin = await setupAdmin(h);
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-subj',
    '/CN=Trust Issuing CA',
    '-days',
    '30',
  );
});
after(async () => {
  await h.close();
});

/** The CA signs a request with the names it asked for and the given lifetime. */
function sign(csrPem: string, days: number): string {
  fs.writeFileSync(path.join(dir, 'r.csr'), csrPem);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:symphony.trust.nhs.uk,IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'r.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'leaf.crt',
    '-days',
    String(days),
    '-extfile',
    'ext.cnf',
  );
  return fs.readFileSync(path.join(dir, 'leaf.crt'), 'utf8') + fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8');
}

const audited = async (r: { headers: Headers }) =>
  (await admin.req('GET', '/audit?limit=200')).body.items
    .filter((e: { requestId: string }) => e.requestId === r.headers.get('x-request-id'))
    .map((e: { action: string; outcome: string }) => `${e.action} ${e.outcome}`);

test('request, sign, complete, see who uses it, renew in place as a staged change', async () => {
  const bad = await admin.req('POST', '/certificate-requests', {
    name: 'symphony-tls',
    commonName: 'symphony.trust.nhs.uk',
    altNames: ['symphony.trust.nhs.uk'],
  });
  assert.equal(bad.status, 422, bad.text);
  assert.equal(bad.body.error.details.fields[0].path, 'altNames.0');

  const req = await admin.req('POST', '/certificate-requests', {
    name: 'symphony-tls',
    commonName: 'symphony.trust.nhs.uk',
    organization: 'Example NHS Trust',
    country: 'GB',
    altNames: ['IP:127.0.0.1'],
  });
  assert.equal(req.status, 201, req.text);
  assert.match(req.body.csrPem, /BEGIN CERTIFICATE REQUEST/);
  assert.deepEqual(req.body.altNames, ['DNS:symphony.trust.nhs.uk', 'IP:127.0.0.1']);
  assert.equal(req.body.isRenewal, false);
  assert.deepEqual(await audited(req), ['certificate-request.create success']);
  assert.equal(req.text.includes('PRIVATE KEY'), false, 'the key never leaves');

  // A certificate for another key is refused at the field.
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'x.key',
    '-out',
    'x.crt',
    '-subj',
    '/CN=someone-else',
    '-days',
    '1',
  );
  const wrong = await admin.req('POST', `/certificate-requests/${req.body.id}/complete`, { certificatePem: fs.readFileSync(path.join(dir, 'x.crt'), 'utf8') });
  assert.equal(wrong.status, 422, wrong.text);
  assert.equal(wrong.body.error.details.fields[0].path, 'certificatePem');

  const done = await admin.req('POST', `/certificate-requests/${req.body.id}/complete`, { certificatePem: sign(req.body.csrPem, 20) });
  assert.equal(done.status, 201, done.text);
  assert.equal((await admin.req('GET', '/certificate-requests')).body.items.length, 0, 'the request is done');

  const vs = await admin.req('POST', '/virtual-services', {
    name: 'symphony-https',
    layer: 7,
    mode: 'http',
    address: '127.0.0.1',
    ports: [18443],
    healthCheck: { type: 'none' },
    layer7: { tls: { certificate: 'symphony-tls' } },
    realServers: [{ name: 'app-1', address: '127.0.0.1', port: 18444 }],
  });
  assert.equal(vs.status, 201, vs.text);
  const [c] = (await admin.req('GET', '/certificates')).body.items;
  assert.equal(c.issuer, 'CN=Trust Issuing CA');
  assert.match(c.subject, /CN=symphony\.trust\.nhs\.uk/);
  assert.deepEqual(c.altNames, ['DNS:symphony.trust.nhs.uk', 'IP Address:127.0.0.1']);
  assert.equal(c.chain.length, 2);
  assert.equal(c.chainStatus, 'Complete up to a self-signed root.');
  assert.deepEqual(c.usedBy, ['symphony-https']);
  assert.equal(c.keyType, 'EC prime256v1');

  // Renewal: a new key and request under the same name; the CA's new certificate replaces the old one in place.
  const applied = await admin.req('GET', '/changes');
  const renewal = await admin.req('POST', '/certificate-requests', {
    name: 'symphony-tls',
    commonName: 'symphony.trust.nhs.uk',
    altNames: ['IP:127.0.0.1'],
    keyType: 'rsa-2048',
  });
  assert.equal(renewal.status, 201, renewal.text);
  assert.equal(renewal.body.isRenewal, true);
  const renewed = await admin.req('POST', `/certificate-requests/${renewal.body.id}/complete`, { certificatePem: sign(renewal.body.csrPem, 60) });
  assert.equal(renewed.status, 200, renewed.text);
  assert.notEqual(renewed.body.fingerprint, c.fingerprint);
  assert.deepEqual(await audited(renewed), ['certificate.replace success']);
  const after = (await admin.req('GET', '/certificates')).body.items;
  assert.equal(after.length, 1, 'replaced, not added');
  assert.equal(after[0].keyType, 'RSA 2048');
  assert.ok(new Date(after[0].notAfter) > new Date(c.notAfter));
  assert.deepEqual(after[0].usedBy, ['symphony-https'], 'the service keeps its reference');
  const changes = (await admin.req('GET', '/changes')).body;
  assert.ok(JSON.stringify(changes).includes('symphony-tls'), 'the renewal is a pending change');
  assert.ok(changes.count >= applied.body.count);

  // Renewal by upload, keeping the stored key: PUT with the certificate alone.
  const again = await admin.req('PUT', `/certificates/${after[0].id}`, { certificatePem: sign(renewal.body.csrPem, 90) });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(await audited(again), ['certificate.replace success']);
});

test('a viewer reads certificates and requests but makes neither', async () => {
  await admin.req('POST', '/users', { username: 'vic', password: 'a long enough password', role: 'viewer' });
  const vic = new Client(h.baseUrl);
  await vic.login('vic', 'a long enough password');
  assert.equal((await vic.req('GET', '/certificates')).status, 200);
  assert.equal((await vic.req('GET', '/certificate-requests')).status, 200);
  const r = await vic.req('POST', '/certificate-requests', { name: 'vic-cert', commonName: 'vic.example' });
  assert.equal(r.status, 403, r.text);
  assert.deepEqual(await audited(r), ['certificate-request.create denied']);
});
