/**
 * Crashed workers under node:cluster, with the restart clock in the test's hands: each SIGKILL schedules the
 * replacement after the next backoff delay (and forks nothing before it), the crash is logged with its signal,
 * an apply during a backoff forks nothing and its configuration reaches the replacement, and close() cancels a
 * replacement not yet due. No test here waits for a delay to pass: it steps the clock.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import type { RestartClock } from './lifecycle.ts';
import { config, fetchOnce, freePort, httpService, startBackend, TEST_TIMEOUT, waitFor, type Backend } from './test-helpers.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-restart-'));
let a: Backend;

before(async () => {
  a = await startBackend('a');
});

after(async () => {
  await a.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A clock whose timers run only when the test fires them, and whose time moves only when the test says. */
function steppedClock() {
  const pending: { ms: number; fn: () => void }[] = [];
  const c = {
    t: 0,
    pending,
    now: () => c.t,
    schedule(fn: () => void, ms: number) {
      const entry = { ms, fn };
      pending.push(entry);
      return () => {
        const i = pending.indexOf(entry);
        if (i !== -1) pending.splice(i, 1);
      };
    },
    /** Moves time to the first timer and runs it; its delay. */
    fire(): number {
      const e = pending.shift()!;
      c.t += e.ms;
      e.fn();
      return e.ms;
    },
  };
  return c satisfies RestartClock;
}

type Entry = { level: string; msg: string; fields?: Record<string, unknown> };

async function serves(port: number): Promise<boolean> {
  try {
    return (await fetchOnce(port, 'GET', '/')).status === 200;
  } catch {
    return false;
  }
}

/** Kills the one worker and waits until its replacement is scheduled; returns that delay without firing it. */
async function killAndSchedule(dp: L7DataPlane, clock: ReturnType<typeof steppedClock>): Promise<number> {
  const [pid] = dp.workerPids();
  assert.ok(pid, 'a worker is running');
  process.kill(pid, 'SIGKILL');
  await waitFor(() => clock.pending.length === 1, 'the replacement to be scheduled', 15_000);
  assert.deepEqual(dp.workerPids(), [], 'nothing is forked before the delay');
  return clock.pending[0].ms;
}

test('a worker killed again and again is replaced after 100, 200, 400, 800 ms, each crash logged; a stable minute resets', TEST_TIMEOUT, async () => {
  const clock = steppedClock();
  const entries: Entry[] = [];
  const dp = createL7DataPlane({
    dataDir: path.join(dir, 'seq'),
    workers: 1,
    closeGraceMs: 200,
    restart: { clock },
    log: (level, msg, fields) => entries.push({ level, msg, fields: fields as Record<string, unknown> }),
  });
  try {
    const port = await freePort();
    assert.equal((await dp.apply({ config: config([httpService('crashy', port, [a])]), decisions: new Map() }))[0].status, 'programmed');
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      delays.push(await killAndSchedule(dp, clock));
      clock.fire();
      await waitFor(() => serves(port), 'the replacement to serve the configuration', 15_000);
    }
    assert.deepEqual(delays, [100, 200, 400, 800]);
    clock.t += 60_000;
    assert.equal(await killAndSchedule(dp, clock), 100, 'a worker that ran a stable minute starts the count again');
    clock.fire();
    await waitFor(() => serves(port), 'the last replacement', 15_000);

    const crashes = entries.filter((e) => e.msg.includes('starting a replacement'));
    assert.equal(crashes.length, 5);
    assert.deepEqual(
      crashes.map((e) => e.fields!.restartInMs),
      [100, 200, 400, 800, 100],
    );
    for (const e of crashes) {
      assert.equal(e.level, 'error');
      assert.match(e.msg, /^layer 7 worker \d+ was killed by SIGKILL; starting a replacement in \d+ ms$/);
      assert.equal(e.fields!.signal, 'SIGKILL');
      assert.equal(e.fields!.code, null);
    }
    assert.deepEqual(
      crashes.map((e) => e.fields!.crashesInARow),
      [1, 2, 3, 4, 1],
    );
  } finally {
    await dp.close();
  }
});

test('an apply while every worker waits out its backoff forks nothing, and the replacement takes that configuration', TEST_TIMEOUT, async () => {
  const clock = steppedClock();
  const dp = createL7DataPlane({ dataDir: path.join(dir, 'apply'), workers: 1, closeGraceMs: 200, restart: { clock } });
  try {
    const [p1, p2] = await Promise.all([freePort(), freePort()]);
    await dp.apply({ config: config([httpService('first', p1, [a])]), decisions: new Map() });
    await killAndSchedule(dp, clock);
    const [first, second] = await dp.apply({ config: config([httpService('first', p1, [a]), httpService('second', p2, [a])]), decisions: new Map() });
    assert.deepEqual(dp.workerPids(), [], 'the apply did not fork past the backoff');
    for (const r of [first, second]) {
      assert.equal(r.status, 'failed');
      assert.equal(r.code, 'PROXY_WORKER_FAILED');
      assert.match(r.message!, /no layer 7 worker is running .* the replacement takes this configuration when it starts/);
    }
    clock.fire();
    await waitFor(async () => (await serves(p1)) && (await serves(p2)), 'the replacement serving both services', 15_000);
  } finally {
    await dp.close();
  }
});

test('close() cancels a replacement not yet due and leaves no worker', TEST_TIMEOUT, async () => {
  const clock = steppedClock();
  const dp = createL7DataPlane({ dataDir: path.join(dir, 'close'), workers: 1, closeGraceMs: 200, restart: { clock } });
  await dp.apply({ config: config([httpService('closing', await freePort(), [a])]), decisions: new Map() });
  await killAndSchedule(dp, clock);
  await dp.close();
  assert.equal(clock.pending.length, 0, 'the replacement was cancelled');
  assert.deepEqual(dp.workerPids(), []);
});
