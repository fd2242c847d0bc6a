/**
 * The keepalived supervisor with the stand-in keepalived (testing/fake-keepalived.mjs): the backoff of a keepalived
 * that keeps dying, a binary that is not there, and a keepalived left running by a dead engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeepalivedSupervisor } from './supervisor.ts';

const FAKE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testing', 'fake-keepalived.mjs');

function files() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-ka-'));
  const confPath = path.join(dir, 'keepalived.conf');
  const fifo = path.join(dir, 'notify');
  fs.writeFileSync(fifo, ''); // a plain file is enough for the stand-in to append to
  fs.writeFileSync(confPath, `global_defs {\n  notify_fifo ${fifo}\n}\nvrrp_instance fulcrum_eth0 {\n  priority 100\n}\n`);
  return { dir, confPath, pidPath: path.join(dir, 'k.pid'), vrrpPidPath: path.join(dir, 'v.pid') };
}

test('supervisor: a keepalived that keeps exiting is started again after 50, 100, 200, 200 ms (the cap), until stopped', async () => {
  const f = files();
  const exits: (number | undefined)[] = [];
  process.env.FAKE_KEEPALIVED_EXIT = '1';
  const s = new KeepalivedSupervisor({
    ...f,
    binary: FAKE,
    log: () => undefined,
    backoff: { initialMs: 50, maxMs: 200, stableMs: 60_000 },
    onChange: (e) => e.kind === 'exited' && exits.push(e.restartInMs),
  });
  try {
    await s.start();
    for (let i = 0; i < 300 && exits.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(exits.slice(0, 4), [50, 100, 200, 200]);
    const st = s.status();
    assert.equal(st.error?.code, 'HA_KEEPALIVED_EXITED');
    assert.match(st.error!.message, /keepalived exited \(exit code 1\); the engine starts it again in 0\.2 s/);
    assert.ok(st.recent.includes('fake keepalived: exiting as told'), 'its last words are kept');
  } finally {
    delete process.env.FAKE_KEEPALIVED_EXIT;
    await s.stop();
  }
  // Stopped: nothing running and no start pending (the restart timer is the only way a start comes back), so no
  // sleep is needed to see that none follows.
  const st = s.status();
  assert.deepEqual([st.isRunning, st.nextStartAt], [false, undefined], 'stopped: no start pending');
});

test('supervisor: a binary that is not there is HA_KEEPALIVED_MISSING', async () => {
  const f = files();
  const s = new KeepalivedSupervisor({
    ...f,
    binary: path.join(f.dir, 'no-keepalived'),
    log: () => undefined,
    backoff: { initialMs: 1000, maxMs: 1000, stableMs: 60_000 },
  });
  await s.start();
  for (let i = 0; i < 100 && !s.status().error; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(s.status().error?.code, 'HA_KEEPALIVED_MISSING');
  assert.match(s.status().error!.message, /install the Debian package keepalived/);
  await s.stop();
});

test('supervisor: a keepalived left by a dead engine (same pid file, same configuration) is stopped before ours starts', async () => {
  const f = files();
  // Left by a dead engine: its parent is gone, so it has been re-parented (a child of ours would count as ours).
  const sh = spawn('sh', ['-c', `"${FAKE}" -n -f "${f.confPath}" -p "${f.pidPath}" -r "${f.vrrpPidPath}" </dev/null >/dev/null 2>&1 & echo $!`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const stalePid = Number(
    await new Promise<string>((resolve) => {
      let out = '';
      sh.stdout!.on('data', (d) => (out += d));
      sh.on('close', () => resolve(out.trim()));
    }),
  );
  const isGone = () => {
    try {
      process.kill(stalePid, 0);
      return fs.readFileSync(`/proc/${stalePid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
    } catch {
      return true;
    }
  };
  for (let i = 0; i < 200 && !fs.existsSync(f.pidPath); i++) await new Promise((r) => setTimeout(r, 10));
  // An unrelated process named in the other pid file is left alone.
  fs.writeFileSync(f.vrrpPidPath, `${process.pid}\n`);
  const s = new KeepalivedSupervisor({ ...f, binary: FAKE, log: () => undefined });
  try {
    await s.start();
    for (let i = 0; i < 200 && !isGone(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(isGone(), 'the stale keepalived was stopped');
    assert.notEqual(s.status().pid, stalePid);
    assert.equal(s.status().isRunning, true);
  } finally {
    await s.stop();
  }
});
