/** The primary's slot ledger, without processes: exact counts per server, per-worker holdings, a dead worker. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlotClient, SlotLedger, slotKey } from './slots.ts';

test('the ledger grants up to the maximum across workers and frees what a released or dead worker held', () => {
  const l = new SlotLedger();
  const k = slotKey('web', 'a|127.0.0.1|8080');
  assert.deepEqual([l.acquire(1, k, 2), l.acquire(2, k, 2), l.acquire(1, k, 2)], [true, true, false]);
  assert.equal(l.inUse(k), 2);
  assert.equal(l.release(2, k), true);
  assert.equal(l.release(2, k), false, 'a worker cannot give back a slot it does not hold');
  assert.equal(l.acquire(1, k, 2), true);
  assert.equal(l.acquire(2, k, 2), false);
  assert.deepEqual(l.dropWorker(1), [k]);
  assert.equal(l.inUse(k), 0, "both of the dead worker's slots are free");
  assert.deepEqual(l.dropWorker(1), []);
  assert.equal(l.acquire(2, k, 1), true, 'a lowered maximum applies to the next acquire');
  assert.equal(l.acquire(2, k, 1), false);
});

test('the client matches answers to requests by id', () => {
  const sent: unknown[] = [];
  const c = new SlotClient((m) => sent.push(m));
  const got: string[] = [];
  c.acquire('k1', 1, (ok) => got.push(`k1 ${ok}`));
  c.acquire('k2', 3, (ok) => got.push(`k2 ${ok}`));
  c.release('k1');
  assert.deepEqual(sent, [
    { t: 'slot-acquire', id: 1, key: 'k1', max: 1 },
    { t: 'slot-acquire', id: 2, key: 'k2', max: 3 },
    { t: 'slot-release', key: 'k1' },
  ]);
  c.answered(2, false);
  c.answered(1, true);
  c.answered(1, true);
  assert.deepEqual(got, ['k2 false', 'k1 true']);
});
