/** Sealing private keys at rest: round trip, tamper and context refusal, one key per data directory, legacy text. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isSealed, mapPrivateKeys, open, seal, secretKey, secretKeyPath } from './secrets.ts';

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-secrets-'));
const PEM = '-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n';

test('a sealed key opens with its key and context only; the key file is owner-only and made once', () => {
  const d = dir();
  const key = secretKey(d);
  assert.equal(fs.statSync(secretKeyPath(d)).mode & 0o777, 0o600);
  assert.deepEqual(secretKey(d), key);
  const sealed = seal(key, PEM, 'certificate:symphony');
  assert.ok(isSealed(sealed));
  assert.ok(!sealed.includes('MIGHAgEA'));
  assert.notEqual(seal(key, PEM, 'certificate:symphony'), sealed, 'a fresh IV each time');
  assert.equal(open(key, sealed, 'certificate:symphony'), PEM);
  assert.throws(() => open(key, sealed, 'certificate:other'), /unable to authenticate|Unsupported state/);
  assert.throws(() => open(secretKey(dir()), sealed, 'certificate:symphony'), /unable to authenticate|Unsupported state/);
  const flipped = sealed.slice(0, -4) + (sealed.at(-4) === 'A' ? 'B' : 'A') + sealed.slice(-3);
  assert.throws(() => open(key, flipped, 'certificate:symphony'));
  assert.equal(open(key, PEM, 'certificate:symphony'), PEM, 'text from before sealing reads as it is');
  assert.equal(seal(key, sealed, 'certificate:symphony'), sealed, 'sealing twice is sealing once');
});

test('a configuration has its private keys sealed and opened, nothing else', () => {
  const key = secretKey(dir());
  const cfg = { virtualServices: [], certificates: [{ name: 'a', certificatePem: 'CERT', privateKeyPem: PEM }] };
  const sealed = mapPrivateKeys(cfg, (p, c) => seal(key, p, c));
  assert.equal(sealed.certificates[0].certificatePem, 'CERT');
  assert.ok(isSealed(sealed.certificates[0].privateKeyPem));
  assert.deepEqual(
    mapPrivateKeys(sealed, (p, c) => open(key, p, c)),
    cfg,
  );
});
