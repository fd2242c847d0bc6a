/**
 * Storage faults (issue 11): the data directory's disk full, and the database locked by another process. Neither is
 * a 500: the console answers with a code that says what to do, changes nothing, audits nothing half-done, and works
 * again once the disk has room or the lock is gone; console and engine still agree on the running version.
 *
 * The full disk is a real one: a 16 MiB tmpfs mounted for this test (needs root, as CI runs), filled with a file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';

const isRoot = process.getuid?.() === 0;
let mountDir = '';
let h: Harness;
let admin: Client;

const service = (name: string, port: number) => ({
  name,
  layer: 4,
  mode: 'nat',
  address: '127.0.0.1',
  ports: [port],
  healthCheck: { type: 'none' },
  realServers: [{ name: 'r1', address: '127.0.0.2', port: 8080 }],
});

before(async () => {
  assert.ok(isRoot, 'the disk-full test mounts a tmpfs and needs root (CI runs as root)');
  mountDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', mountDir]);
  h = await startHarness({ parentDir: mountDir });
  admin = await setupAdmin(h);
});
after(async () => {
  await h?.close().catch(() => undefined);
  if (mountDir) execFileSync('umount', ['-l', mountDir]);
});

const versions = async () => (await admin.req('GET', '/config-versions')).body.items as { id: number; status: string }[];
const engineVersion = async () => (await (await import('../engine.ts')).engine().status()).running?.version ?? null;
const auditRows = async () => (await admin.req('GET', '/audit?limit=1')).body.items[0]?.id as number;

test('disk full: writes answer 507 and change nothing; after space is freed everything works and agrees', async () => {
  assert.equal((await admin.req('POST', '/virtual-services', service('before-full', 81))).status, 201);
  const ok = await admin.req('POST', '/apply', {});
  assert.equal(ok.status, 200, ok.text);
  const filler = path.join(mountDir, 'filler');
  // Fill the disk: dd stops at ENOSPC.
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
  } catch {
    // "No space left on device" is the point
  }
  const lastAudit = await auditRows();
  const names = async () => ((await admin.req('GET', '/virtual-services')).body.items as { name: string }[]).map((v) => v.name);
  const before = await names();
  const created = await admin.req('POST', '/virtual-services', service('while-full', 82));
  assert.equal(created.status, 507, created.text);
  assert.equal(created.body.error.code, 'API_STORAGE_FULL');
  assert.match(created.body.error.message, /disk holding the data directory is full/);
  assert.deepEqual(await names(), before, 'nothing was staged');
  const applied = await admin.req('POST', '/apply', {});
  assert.ok([409, 507].includes(applied.status), applied.text);
  assert.equal(await engineVersion(), ok.body.version, 'the engine still runs what the console says runs');
  fs.rmSync(filler);
  const again = await admin.req('POST', '/virtual-services', service('after-full', 83));
  assert.equal(again.status, 201, again.text);
  const after = await admin.req('POST', '/apply', {});
  assert.equal(after.status, 200, after.text);
  assert.equal(await engineVersion(), after.body.version);
  assert.equal((await versions()).filter((v) => v.status === 'applying').length, 0);
  // Audit rows after the fill: the create and the apply that worked (refusals could not be written: the disk was full).
  const rows = ((await admin.req('GET', `/audit?limit=50`)).body.items as { id: number; action: string; outcome: string }[]).filter((r) => r.id > lastAudit);
  assert.deepEqual(
    rows
      .filter((r) => r.outcome === 'success')
      .map((r) => r.action)
      .sort(),
    ['config.apply', 'virtual-service.create'],
  );
  assert.equal((await admin.req('GET', '/audit/verify')).body.isIntact, true);
});

test('database locked by another process: writes answer 503 with Retry-After, then work once the lock is gone', async () => {
  const db = path.join(h.dataDir, 'fulcrum.db');
  // Another process takes the write lock and holds it until told to let go.
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `
    const D = require('better-sqlite3'); const d = new D(process.argv[1]); d.pragma('busy_timeout = 0');
    d.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n');
    process.stdin.once('data', () => { d.exec('ROLLBACK'); d.close(); process.exit(0); });`,
      db,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
  try {
    const r = await admin.req('POST', '/virtual-services', service('while-locked', 84));
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.error.code, 'API_DATABASE_BUSY');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    const read = await admin.req('GET', '/virtual-services');
    assert.equal(read.status, 200, 'reads go on (WAL)');
  } finally {
    holder.stdin!.write('go\n');
    await new Promise((r) => holder.once('exit', r));
  }
  const r = await admin.req('POST', '/virtual-services', service('after-lock', 85));
  assert.equal(r.status, 201, r.text);
});
