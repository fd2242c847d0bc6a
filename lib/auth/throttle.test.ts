/**
 * Login throttling by (user, address) pair with a global backstop, on a real SQLite file, with the clock passed in.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeDb, db } from '../db.ts';
import { GLOBAL_POLICY, KNOWN_PAIR_MS, PAIR_POLICY, recordFailure, recordSuccess, throttleKeys, throttleState } from './throttle.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-throttle-'));
const t0 = new Date('2026-12-01T09:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

before(() => {
  process.env.FULCRUM_DATA_DIR = dataDir;
});
beforeEach(async () => {
  await db().loginThrottle.deleteMany({});
});
after(async () => {
  await closeDb();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function fail(user: string, address: string, times: number, when: Date) {
  for (let i = 0; i < times; i++) await recordFailure(throttleKeys(user, address), when);
}

test('five failures lock the pair, and only the pair: not the user elsewhere, not other users from that address', async () => {
  await fail('admin', '10.0.0.66', PAIR_POLICY.freeFailures - 1, t0);
  assert.deepEqual(await throttleState(throttleKeys('admin', '10.0.0.66'), t0), { seconds: 0 });
  await fail('admin', '10.0.0.66', 1, t0);
  assert.deepEqual(await throttleState(throttleKeys('admin', '10.0.0.66'), t0), { seconds: 60, scope: 'pair' });
  assert.deepEqual(await throttleState(throttleKeys('ADMIN', '10.0.0.66'), t0), { seconds: 60, scope: 'pair' }, 'usernames are compared without case');
  assert.deepEqual(await throttleState(throttleKeys('admin', '10.0.0.7'), t0), { seconds: 0 }, 'the admin at their own desk is not locked out');
  assert.deepEqual(await throttleState(throttleKeys('operator1', '10.0.0.66'), t0), { seconds: 0 }, 'other accounts from that address are not locked out');
});

test('each further failure doubles the lock, up to an hour; the window forgets after 15 minutes', async () => {
  const k = throttleKeys('victim', '10.0.0.66');
  await fail('victim', '10.0.0.66', 5, t0);
  const seen: number[] = [(await throttleState(k, t0)).seconds];
  for (let i = 0; i < 8; i++) {
    await recordFailure(k, t0);
    seen.push((await throttleState(k, t0)).seconds);
  }
  assert.deepEqual(seen, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
  const later = at(PAIR_POLICY.windowMs + 3600_000 + 1);
  assert.equal((await throttleState(k, later)).seconds, 0);
  await recordFailure(k, later);
  assert.equal((await throttleState(k, later)).seconds, 0, 'a fresh window starts counting at one');
});

test('a success clears its pair', async () => {
  const k = throttleKeys('victim', '10.0.0.66');
  await fail('victim', '10.0.0.66', 4, t0);
  await recordSuccess(k, t0);
  await fail('victim', '10.0.0.66', 4, t0);
  assert.equal((await throttleState(k, t0)).seconds, 0);
});

test('the global backstop holds back every pair not seen to succeed lately, and lifts when its lock ends', async () => {
  const known = throttleKeys('admin', '10.0.0.7');
  await recordSuccess(known, t0);
  // A spray: many usernames from many addresses, four tries each (under the pair limit).
  let n = 0;
  for (let i = 0; n < GLOBAL_POLICY.freeFailures; i++) {
    const tries = Math.min(4, GLOBAL_POLICY.freeFailures - n);
    await fail(`user${i}`, `192.0.2.${i % 250}`, tries, at(1000));
    n += tries;
  }
  const stranger = throttleKeys('operator1', '10.0.0.8');
  assert.deepEqual(await throttleState(stranger, at(1000)), { seconds: 60, scope: 'global' });
  assert.deepEqual(await throttleState(known, at(1000)), { seconds: 0 }, 'the admin who logged in from here lately still can');
  assert.deepEqual(await throttleState(known, at(KNOWN_PAIR_MS + 1)), { seconds: 0 }, '(the lock is long over by then anyway)');
  assert.deepEqual(await throttleState(stranger, at(61_000)), { seconds: 0 });
  const rows = await db().loginThrottle.findMany();
  assert.ok(
    rows.every((r) => !/user\d/.test(r.key)),
    'usernames are kept hashed, never as typed',
  );
});

test('parallel failures each count', async () => {
  const k = throttleKeys('victim', '10.0.0.66');
  await Promise.all(Array.from({ length: 5 }, () => recordFailure(k, t0)));
  assert.equal((await db().loginThrottle.findUnique({ where: { key: k.pair } }))!.failures, 5);
  assert.equal((await throttleState(k, t0)).scope, 'pair');
});
