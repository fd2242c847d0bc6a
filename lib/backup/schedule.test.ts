/**
 * Scheduled backups: each run writes a whole, readable backup file (0600) to the directory and keeps only the newest
 * `keep`; each run is audited; the settings are read from the environment and refused with the variable's name.
 * Runs are called directly (no timers, no sleeping): the schedule itself is a setInterval.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backupOnce, scheduleFromEnv } from './schedule.ts';
import { readBackup } from './format.ts';
import { setupAdmin, startHarness, type Harness, type Client } from '../testing/harness.ts';

let h: Harness;
let admin: Client;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-backups-'));
before(async () => {
  h = await startHarness({ withEngine: false });
  admin = await setupAdmin(h);
});
after(async () => {
  await h.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('each run writes a readable backup; only the newest `keep` stay; each run is audited', async () => {
  const made = await admin.req('POST', '/virtual-services', {
    name: 'pacs',
    layer: 4,
    mode: 'dr',
    address: '127.0.0.60',
    ports: [11112],
    healthCheck: { type: 'none' },
    realServers: [{ name: 'pacs-1', address: '127.0.0.21' }],
  });
  assert.equal(made.status, 201, made.text);
  const written: string[] = [];
  for (let i = 0; i < 4; i++) written.push((await backupOnce({ dir, keep: 2, everyMs: 1, passphrase: 'a scheduled passphrase' })).file);
  const left = fs.readdirSync(dir).sort();
  assert.deepEqual(
    left,
    written
      .slice(-2)
      .map((f) => path.basename(f))
      .sort(),
    'the two newest are kept',
  );
  assert.equal(fs.statSync(written[3]).mode & 0o777, 0o600);
  const back = readBackup(JSON.parse(fs.readFileSync(written[3], 'utf8')), { passphrase: 'a scheduled passphrase' });
  assert.deepEqual(
    back.config.virtualServices.map((v) => v.name),
    ['pacs'],
  );
  const audit = (await admin.req('GET', '/audit?action=backup.scheduled&outcome=success')).body.items;
  assert.equal(audit.length, 4);
});

test('settings come from the environment; wrong ones are refused naming the variable', () => {
  assert.equal(scheduleFromEnv({}), undefined, 'off unless a directory is given');
  assert.deepEqual(scheduleFromEnv({ FULCRUM_BACKUP_DIR: dir }), { dir, keep: 14, everyMs: 24 * 3_600_000, passphrase: undefined });
  assert.throws(() => scheduleFromEnv({ FULCRUM_BACKUP_DIR: dir, FULCRUM_BACKUP_KEEP: '0' }), /FULCRUM_BACKUP_KEEP/);
  assert.throws(() => scheduleFromEnv({ FULCRUM_BACKUP_DIR: dir, FULCRUM_BACKUP_HOURS: 'daily' }), /FULCRUM_BACKUP_HOURS/);
  const short = path.join(dir, '..', `short-pass-${process.pid}`);
  fs.writeFileSync(short, 'short\n');
  assert.throws(() => scheduleFromEnv({ FULCRUM_BACKUP_DIR: dir, FULCRUM_BACKUP_PASSPHRASE_FILE: short }), /at least 12 characters/);
  fs.rmSync(short);
});
