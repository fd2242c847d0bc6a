/**
 * Backup and restore: the file format refuses a tampered file, a wrong version and a wrong passphrase, each with its
 * reason; over the real API (real SQLite files), backup → wipe (a fresh appliance: new data directory) → restore gives
 * the same configuration hash, private keys included when exported with a passphrase; the preview changes nothing;
 * export and restore are audited. Addresses are loopback; checks are off; nothing is applied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema } from '../../engine/config/index.ts';
import { canonicalJson, sha256Hex } from '../../engine/canonical.ts';
import { BackupRefusal, exportBackup, readBackup } from './format.ts';
import { makeSelfSigned } from '../wizard/certificate.ts';
import { setupAdmin, startHarness } from '../testing/harness.ts';

const cert = makeSelfSigned('symphony-test', '127.0.0.1');
const config = ConfigSchema.parse({
  virtualServices: [
    {
      name: 'symphony',
      layer: 7,
      mode: 'http',
      address: '127.0.0.1',
      ports: [8443],
      healthCheck: { type: 'none' },
      layer7: { tls: { certificate: 'symphony-cert' } },
      realServers: [{ name: 'a', address: '127.0.0.11', port: 8080 }],
    },
  ],
  certificates: [{ name: 'symphony-cert', ...cert }],
});
const PASS = 'correct horse battery staple';

const refusal = (fn: () => unknown, reason: BackupRefusal['reason'], text: RegExp) => {
  assert.throws(fn, (e: unknown) => e instanceof BackupRefusal && e.reason === reason && text.test(e.message));
};

test('with a passphrase the keys travel encrypted and come back; without one they are left out', () => {
  const enc = exportBackup(config, { createdBy: 'ed-admin', passphrase: PASS });
  assert.ok(!JSON.stringify(enc).includes('PRIVATE KEY-----\n'), 'no key in clear');
  assert.equal(enc.secrets.mode, 'encrypted');
  assert.match(enc.contentHash, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(readBackup(JSON.parse(JSON.stringify(enc)), { passphrase: PASS }).config, config);
  const plain = exportBackup(config, { createdBy: 'ed-admin' });
  assert.equal((plain.config.certificates as { privateKeyPem: string }[])[0].privateKeyPem, '[omitted]');
  assert.deepEqual(readBackup(plain).keysMissing, ['symphony-cert']);
  assert.deepEqual(readBackup(plain, { existingKey: () => cert.privateKeyPem }).config, config, 'a key this appliance has fills in');
});

test('refused with a reason: not a backup, a wrong version, a tampered file, a wrong or missing passphrase, an invalid config', () => {
  const enc = exportBackup(config, { createdBy: 'ed-admin', passphrase: PASS });
  refusal(() => readBackup({ hello: 1 }), 'not-a-backup', /not a Fulcrum backup/);
  refusal(() => readBackup({ ...enc, formatVersion: 2 }), 'wrong-version', /format version 2; this appliance reads version 1/);
  refusal(() => readBackup({ ...enc, schemaVersion: 9 }), 'wrong-version', /schema version 9/);
  const edited = structuredClone(enc) as typeof enc & { config: { virtualServices: { address: string }[] } };
  edited.config.virtualServices[0].address = '127.0.0.66';
  refusal(() => readBackup(edited, { passphrase: PASS }), 'tampered', /does not match its content hash/);
  // Rehashed by whoever edited it (the hash is no secret): the keys no longer decrypt, because the configuration is their associated data.
  const { contentHash: _h, ...rest } = edited;
  const resigned = { ...rest, contentHash: `sha256:${sha256Hex(canonicalJson(rest))}` };
  refusal(() => readBackup(resigned, { passphrase: PASS }), 'passphrase', /cannot be decrypted: the passphrase is not the one .* or the file was changed/);
  refusal(() => readBackup(enc, { passphrase: 'not the right passphrase' }), 'passphrase', /passphrase is not the one/);
  refusal(() => readBackup(enc), 'passphrase', /give the passphrase/);
  const bad = exportBackup({ ...config, virtualServices: [{ ...config.virtualServices[0], scheduler: 'bogus' as never }] }, { createdBy: 'x' });
  assert.throws(
    () => readBackup(bad, { existingKey: () => cert.privateKeyPem }),
    (e: unknown) => e instanceof BackupRefusal && e.reason === 'invalid-config' && e.path === 'config.virtualServices.0.scheduler',
  );
});

test('backup → wipe → restore over the API gives the same configuration hash, audited, previewed first', async () => {
  let h = await startHarness({ withEngine: false });
  let admin = await setupAdmin(h);
  const up = await admin.req('POST', '/certificates', { name: 'symphony-cert', ...cert });
  assert.equal(up.status, 201, up.text);
  const vs = await admin.req('POST', '/virtual-services', config.virtualServices[0]);
  assert.equal(vs.status, 201, vs.text);
  const dr = await admin.req('POST', '/virtual-services', {
    name: 'pacs',
    layer: 4,
    mode: 'dr',
    address: '127.0.0.60',
    ports: [11112],
    healthCheck: { type: 'none' },
    realServers: [{ name: 'pacs-1', address: '127.0.0.21' }],
  });
  assert.equal(dr.status, 201, dr.text);
  const before = (await admin.req('GET', '/changes')).body.candidateHash;
  assert.equal((await admin.req('POST', '/backup/export', { passphrase: 'short' })).status, 422, 'a short passphrase is refused');
  const exported = await admin.req('POST', '/backup/export', { passphrase: PASS });
  assert.equal(exported.status, 200, exported.text);
  assert.match(exported.headers.get('content-disposition')!, /attachment; filename="fulcrum-backup-.*\.json"/);
  const file = JSON.parse(exported.text);
  assert.equal((await admin.req('GET', '/audit?action=backup.export&outcome=success')).body.items.length, 1, 'the export is audited');
  await h.close();

  // A fresh appliance.
  h = await startHarness({ withEngine: false });
  admin = await setupAdmin(h);
  const empty = (await admin.req('GET', '/changes')).body.candidateHash;
  assert.notEqual(empty, before);
  const wrong = await admin.req('POST', '/backup/preview', { file, passphrase: 'not the right passphrase' });
  assert.equal(wrong.status, 422);
  assert.equal(wrong.body.error.details.reason, 'passphrase');
  assert.equal(wrong.body.error.details.fields[0].path, 'passphrase');
  const tampered = await admin.req('POST', '/backup/preview', { file: { ...file, createdBy: 'mallory' }, passphrase: PASS });
  assert.equal(tampered.body.error.details.reason, 'tampered');
  const preview = await admin.req('POST', '/backup/preview', { file, passphrase: PASS });
  assert.equal(preview.status, 200, preview.text);
  assert.deepEqual(preview.body.changes.map((c: { kind: string; name: string }) => `${c.kind} ${c.name}`).sort(), [
    'added pacs',
    'added pacs/pacs-1',
    'added symphony',
    'added symphony-cert',
    'added symphony/a',
  ]);
  assert.equal(preview.body.configHash, before);
  assert.equal((await admin.req('GET', '/changes')).body.candidateHash, empty, 'the preview changed nothing');
  const restored = await admin.req('POST', '/backup/restore', { file, passphrase: PASS, expectedCandidateHash: preview.body.candidateHash });
  assert.equal(restored.status, 200, restored.text);
  assert.equal((await admin.req('GET', '/changes')).body.candidateHash, before, 'the same configuration hash as before the wipe');
  const audit = (await admin.req('GET', '/audit?action=backup.restore&outcome=success')).body.items;
  assert.equal(audit.length, 1);
  await h.close();
});
