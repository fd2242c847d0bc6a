/**
 * The sync daemon follower against a fake kernel that keeps its daemons and refuses what IPVS refuses (EEXIST for a
 * second daemon of one state): the exact sequence of commands for each change, and what it will not touch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SyncDaemon } from '../l4/model.ts';
import { SyncDaemonFollower, type SyncPort } from './sync-daemon.ts';

function fakeKernel(initial: SyncDaemon[] = []): SyncPort & { log: string[]; daemons(): Promise<SyncDaemon[]> } {
  const running = [...initial];
  const log: string[] = [];
  return {
    log,
    daemons: async () => running.map((d) => ({ ...d })),
    startDaemon: async (d) => {
      log.push(`start ${d.state} ${d.interface} ${d.syncId}`);
      if (running.some((x) => x.state === d.state)) return { command: { cmd: 'new-daemon', daemon: d }, ok: false, errno: 'EEXIST' };
      running.push(d);
      return { command: { cmd: 'new-daemon', daemon: d }, ok: true };
    },
    stopDaemon: async (state) => {
      log.push(`stop ${state}`);
      running.splice(
        running.findIndex((x) => x.state === state),
        1,
      );
      return { command: { cmd: 'del-daemon', state }, ok: true };
    },
    close: () => undefined,
  };
}

const tmp = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-sync-')), 'ha-sync.json');
const quiet = () => undefined;
const eth0 = { interface: 'eth0', syncId: 51 };

test('sync daemon: backup, then master (started before the backup stops), then backup again, then off', async () => {
  const k = fakeKernel();
  const f = new SyncDaemonFollower(async () => k, tmp(), quiet);
  await f.follow('backup', eth0);
  await f.follow('backup', eth0); // nothing to do
  await f.follow('master', eth0);
  await f.follow('backup', eth0);
  await f.follow('off');
  assert.deepEqual(k.log, ['start backup eth0 51', 'start master eth0 51', 'stop backup', 'start backup eth0 51', 'stop master', 'stop backup']);
  assert.deepEqual((await f.status()).running, []);
});

test("sync daemon: new settings replace its own daemon; another program's daemon is reported, never stopped", async () => {
  const record = tmp();
  const k = fakeKernel();
  const f = new SyncDaemonFollower(async () => k, record, quiet);
  await f.follow('backup', eth0);
  await f.follow('backup', { interface: 'eth1', syncId: 7 });
  assert.deepEqual(k.log, ['start backup eth0 51', 'stop backup', 'start backup eth1 7']);
  assert.deepEqual(JSON.parse(fs.readFileSync(record, 'utf8')).owned, ['backup'], 'recorded, so a restarted engine knows it is its own');

  const theirs = fakeKernel([{ state: 'master', interface: 'eth9', syncId: 3 }]);
  const g = new SyncDaemonFollower(async () => theirs, tmp(), quiet);
  await g.follow('master', eth0);
  const s = await g.status();
  assert.equal(s.error?.code, 'HA_SYNC_CONFLICT');
  assert.match(s.error!.message, /interface eth9, sync ID 3/);
  await g.follow('off');
  assert.deepEqual(theirs.log, [], 'not stopped, not replaced');
  // One with exactly our settings is adopted (an engine whose record was lost).
  const same = fakeKernel([{ state: 'backup', interface: 'eth0', syncId: 51 }]);
  const h = new SyncDaemonFollower(async () => same, tmp(), quiet);
  await h.follow('master', eth0);
  assert.deepEqual(same.log, ['start master eth0 51', 'stop backup']);
});

test('sync daemon: no IPVS is a reason in the status, not a throw', async () => {
  const f = new SyncDaemonFollower(
    async () => {
      throw Object.assign(new Error('IPVS is not available in this kernel'), { code: 'IPVS_UNAVAILABLE' });
    },
    tmp(),
    quiet,
  );
  await f.follow('backup', eth0);
  assert.deepEqual((await f.status()).error, { code: 'IPVS_UNAVAILABLE', message: 'IPVS is not available in this kernel' });
});
