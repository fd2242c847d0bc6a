/**
 * The Running routes over the real API, a real engine process and a real SQLite file: a viewer reads what the engine
 * runs (the configuration without private keys, the layer 7 listener and pool, the IPVS table or why it cannot be
 * read here); nobody logged out does. And the scheduled backups listing (admins): off, then on with its files.
 * Addresses are loopback; health checks are none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client, setupAdmin, startHarness } from '../testing/harness.ts';
import { makeSelfSigned } from '../wizard/certificate.ts';
import { backupOnce } from '../backup/schedule.ts';

const PASSWORD = 'a viewer passphrase 1';

test('a viewer reads the running configuration (no private key), the layer 7 runtime and the layer 4 table', async () => {
  const h = await startHarness();
  try {
    const admin = await setupAdmin(h);
    const anonymous = new Client(h.baseUrl);
    assert.equal((await anonymous.req('GET', '/running/l7')).status, 401);
    const cert = makeSelfSigned('running-test', '127.0.0.1');
    assert.equal((await admin.req('POST', '/certificates', { name: 'running-cert', ...cert })).status, 201);
    const vs = await admin.req('POST', '/virtual-services', {
      name: 'portal',
      layer: 7,
      mode: 'http',
      address: '127.0.0.1',
      ports: [18443],
      healthCheck: { type: 'none' },
      layer7: { tls: { certificate: 'running-cert' } },
      persistence: { type: 'source-ip', timeoutSeconds: 600 },
      realServers: [
        { name: 'app-1', address: '127.0.0.21', port: 8080 },
        { name: 'app-2', address: '127.0.0.22', port: 8080, state: 'drain' },
      ],
    });
    assert.equal(vs.status, 201, vs.text);
    const applied = await admin.req('POST', '/apply', { comment: 'running views' });
    assert.equal(applied.status, 200, applied.text);

    assert.equal((await admin.req('POST', '/users', { username: 'vera', password: PASSWORD, role: 'viewer' })).status, 201);
    const vera = new Client(h.baseUrl);
    assert.equal((await vera.login('vera', PASSWORD)).status, 200);

    const config = await vera.req('GET', '/running/config');
    assert.equal(config.status, 200, config.text);
    assert.ok(Date.parse(config.body.at) > 0, 'says when it was read');
    assert.equal(config.body.running.hash, applied.body.hash ?? config.body.running.hash);
    assert.equal(config.body.config.virtualServices[0].name, 'portal');
    assert.ok(!config.text.includes('PRIVATE KEY'), 'no private key in the answer');
    assert.match(config.body.config.certificates[0].privateKeyPem, /never shown/);

    const l7 = await vera.req('GET', '/running/l7');
    assert.equal(l7.status, 200, l7.text);
    const [s] = l7.body.services;
    assert.deepEqual([s.name, s.status, s.listeners, s.isTls], ['portal', 'programmed', ['127.0.0.1:18443'], true]);
    assert.deepEqual(
      s.servers.map((x: { name: string; operator: string; disposition: string }) => `${x.name} ${x.operator} ${x.disposition}`),
      ['app-1 online serve', 'app-2 drain quiesce'],
    );
    assert.deepEqual(s.stickTables, [{ table: 'portal/source', entries: 0 }]);

    const l4 = await vera.req('GET', '/running/l4');
    assert.equal(l4.status, 200, l4.text);
    // This machine's kernel has no IPVS: the answer says so instead of showing an empty table as if it were real.
    if (!l4.body.isAvailable) assert.match(l4.body.reason, /IPVS|netlink|permission/i);
    else assert.ok(Array.isArray(l4.body.services));
  } finally {
    await h.close();
  }
});

test('scheduled backups: off without FULCRUM_BACKUP_DIR; on, the files it keeps, newest first, readable by name only', async () => {
  const h = await startHarness({ withEngine: false });
  const saved = process.env.FULCRUM_BACKUP_DIR;
  try {
    const admin = await setupAdmin(h);
    // No engine in this harness: the Running views say so rather than show nothing as if nothing ran.
    const down = await admin.req('GET', '/running/l7');
    assert.deepEqual([down.status, down.body.isReachable, down.body.error.code], [200, false, 'ENGINE_UNREACHABLE']);
    delete process.env.FULCRUM_BACKUP_DIR;
    assert.deepEqual((await admin.req('GET', '/backup/scheduled')).body, { isEnabled: false, files: [] });
    const dir = path.join(h.dataDir, 'backups');
    process.env.FULCRUM_BACKUP_DIR = dir;
    const first = await backupOnce({ dir, keep: 5, everyMs: 3_600_000 });
    // A later one, named as the schedule names them (two runs inside one millisecond would share a name).
    const second = { file: path.join(dir, 'fulcrum-backup-2099-01-01T00-00-00-000Z.json') };
    fs.copyFileSync(first.file, second.file);
    const list = await admin.req('GET', '/backup/scheduled');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual([list.body.isEnabled, list.body.dir, list.body.everyHours, list.body.keep, list.body.isEncrypted], [true, dir, 24, 14, false]);
    assert.deepEqual(
      list.body.files.map((f: { name: string }) => f.name),
      [path.basename(second.file), path.basename(first.file)],
    );
    const one = await admin.req('GET', `/backup/scheduled/${path.basename(first.file)}`);
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(one.body, JSON.parse(fs.readFileSync(first.file, 'utf8')));
    assert.equal((await admin.req('GET', '/backup/scheduled/..%2Fsetup-token')).status, 404, "nothing outside the schedule's names");
    assert.equal((await admin.req('POST', '/users', { username: 'vic', password: PASSWORD, role: 'viewer' })).status, 201);
    const vic = new Client(h.baseUrl);
    await vic.login('vic', PASSWORD);
    assert.equal((await vic.req('GET', '/backup/scheduled')).status, 403, 'a viewer may not take the configuration away');
  } finally {
    if (saved === undefined) delete process.env.FULCRUM_BACKUP_DIR;
    else process.env.FULCRUM_BACKUP_DIR = saved;
    await h.close();
  }
});
