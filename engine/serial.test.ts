import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SerialQueue } from './serial.ts';

test('tasks run one at a time in the order queued; a failure reaches its caller and does not stop the next', async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const first = q.run(async () => {
    log.push('first start');
    await gate;
    log.push('first end');
    return 1;
  });
  const second = q.run(async () => {
    log.push('second');
    throw new Error('refused');
  });
  const third = q.run(async () => {
    log.push('third');
    return 3;
  });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['first start'], 'nothing else starts while the first runs');
  release();
  assert.equal(await first, 1);
  await assert.rejects(second, /refused/);
  assert.equal(await third, 3);
  await q.idle();
  assert.deepEqual(log, ['first start', 'first end', 'second', 'third']);
});
