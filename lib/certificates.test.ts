/**
 * Certificates read and requested: a request made here is verified and signed by the openssl CLI (a real CA tool),
 * and the signed certificate with its CA is read back: issuer, subject alternative names, chain, key match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { certificateMatchesKey, describeCertificate, generateRequest } from './certificates.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-cert-'));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function makeCa() {
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
    '/CN=Trust Test CA',
    '-days',
    '30',
  );
  return fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8');
}

test('a request made here is valid to openssl, and its signed certificate reads back with issuer, names and chain', async () => {
  const ca = makeCa();
  for (const keyType of ['ec-p256', 'rsa-2048'] as const) {
    const r = await generateRequest({
      commonName: 'symphony.trust.nhs.uk',
      organization: 'Example NHS Trust',
      altNames: ['DNS:symphony-web.trust.nhs.uk', 'IP:10.0.0.5'],
      keyType,
    });
    fs.writeFileSync(path.join(dir, 'req.csr'), r.csrPem);
    assert.match(openssl('req', '-in', 'req.csr', '-noout', '-verify'), /verify OK|^$/);
    const text = openssl('req', '-in', 'req.csr', '-noout', '-text');
    assert.match(text, /CN ?= ?symphony\.trust\.nhs\.uk/);
    assert.match(text, /DNS:symphony\.trust\.nhs\.uk, DNS:symphony-web\.trust\.nhs\.uk, IP Address:10\.0\.0\.5/);
    fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:symphony.trust.nhs.uk,DNS:symphony-web.trust.nhs.uk,IP:10.0.0.5\n');
    openssl('x509', '-req', '-in', 'req.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.crt', '-days', '10', '-extfile', 'ext.cnf');
    const leaf = fs.readFileSync(path.join(dir, 'leaf.crt'), 'utf8');
    assert.equal(certificateMatchesKey(leaf, r.privateKeyPem), true);
    const d = describeCertificate(leaf + ca);
    assert.equal(d.issuer, 'CN=Trust Test CA');
    assert.deepEqual(d.altNames, ['DNS:symphony.trust.nhs.uk', 'DNS:symphony-web.trust.nhs.uk', 'IP Address:10.0.0.5']);
    assert.equal(d.keyType, keyType === 'ec-p256' ? 'EC prime256v1' : 'RSA 2048');
    assert.deepEqual(
      d.chain.map((l) => l.isSignedByNext),
      [true, null],
    );
    assert.equal(d.chainStatus, 'Complete up to a self-signed root.');
    assert.match(describeCertificate(leaf).chainStatus, /Ends at "CN=Trust Test CA"/);
    assert.match(describeCertificate(ca + leaf).chainStatus, /Certificate 1 is not issued by certificate 2/);
  }
  const other = await generateRequest({ commonName: 'other', altNames: [], keyType: 'ec-p256' });
  assert.equal(certificateMatchesKey(fs.readFileSync(path.join(dir, 'leaf.crt'), 'utf8'), other.privateKeyPem), false);
});
