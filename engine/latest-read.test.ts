/**
 * LatestRead (latest-read.ts) on Node's mock timers: the first read is waited for, however long; later, a read the
 * kernel holds up answers with the last value after the wait, callers meanwhile share one read, and the next call
 * after it finishes sees the new value. A failed read rejects, and does not stop the next one.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { LatestRead } from './latest-read.ts';

test('LatestRead: a slow read answers with the last value after the wait; callers share one read', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-12-02T01:00:00Z') });
  try {
    let reads = 0;
    let release: ((v: number) => void) | undefined;
    const r = new LatestRead<number>(() => {
      reads++;
      if (reads !== 2) return Promise.resolve(reads);
      return new Promise<number>((resolve) => (release = resolve));
    }, 1000);
    assert.deepEqual(await r.get(), { value: 1, readAt: '2026-12-02T01:00:00.000Z' });
    mock.timers.tick(5000);
    const a = r.get();
    const b = r.get();
    mock.timers.tick(1000);
    assert.deepEqual(await Promise.all([a, b]), [
      { value: 1, readAt: '2026-12-02T01:00:00.000Z' },
      { value: 1, readAt: '2026-12-02T01:00:00.000Z' },
    ]);
    assert.equal(reads, 2, 'the two callers shared the held-up read');
    mock.timers.tick(500);
    const c = r.get();
    release!(2);
    assert.deepEqual(await c, { value: 2, readAt: '2026-12-02T01:00:06.500Z' }, 'a caller still sharing the held-up read gets its value once it is done');
    assert.deepEqual(await r.get(), { value: 3, readAt: '2026-12-02T01:00:06.500Z' }, 'and the next call reads afresh');
    assert.equal(reads, 3);
  } finally {
    mock.timers.reset();
  }
});

test('LatestRead: the first read is waited for; a failed read rejects and the next one starts afresh', async () => {
  let n = 0;
  const r = new LatestRead<string>(async () => {
    n++;
    if (n === 1) throw Object.assign(new Error('genl busy'), { code: 'EBUSY' });
    return `read ${n}`;
  }, 1000);
  await assert.rejects(r.get(), /genl busy/);
  assert.equal((await r.get()).value, 'read 2');
});

test('LatestRead: within maxAge the last value is given without a read; invalidate() makes the next call read', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-12-02T02:00:00Z') });
  try {
    let reads = 0;
    const r = new LatestRead<number>(async () => ++reads, 1000, 500);
    assert.deepEqual(await r.get(), { value: 1, readAt: '2026-12-02T02:00:00.000Z' });
    mock.timers.tick(499);
    assert.equal((await r.get()).value, 1, 'still fresh: no read');
    mock.timers.tick(1);
    assert.equal((await r.get()).value, 2, 'half a second old: read again');
    r.invalidate();
    assert.equal((await r.get()).value, 3, 'invalidated: read at once');
    assert.equal(reads, 3);
  } finally {
    mock.timers.reset();
  }
});
